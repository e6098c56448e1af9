import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLog } from "../../../src/log.js";
import type { FieldValue } from "../../../src/protocol/field-table.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { buildSnapshot, restoreSnapshot } from "../../../src/vhost/definitions.js";
import type { TopicPermission } from "../../../src/vhost/users.js";
import {
  answer,
  exchangeDeclare,
  outcome,
  type PermissionFixture,
  permissionFixture,
  publishConfirmed,
  str,
  table,
  USER,
} from "../../support/permission-fixture.js";

// RabbitMQ's topic authorisation (https://www.rabbitmq.com/docs/access-control#topic-authorisation):
// on a topic exchange, a user with a topic permission may publish only with routing
// keys matching its write pattern and bind only with keys matching its read pattern.

function withTopicPermission(...perms: TopicPermission[]): PermissionFixture {
  const fixture = permissionFixture({ configure: ".*", write: ".*", read: ".*" });
  for (const p of perms) fixture.broker.users.setTopicPermission("/", USER, p);
  return fixture;
}

const refusedTopic = (kind: string, key: string, exchange = "t") =>
  `403 ACCESS_REFUSED - ${kind} access to topic '${key}' in exchange '${exchange}' in vhost '/' refused for user 'alice'`;

const array = (...keys: string[]): FieldValue => ({ type: "A", value: keys.map(str) });

async function publishOutcome(
  f: PermissionFixture,
  key: string,
  exchange = "t",
  headers?: [string, FieldValue][],
) {
  publishConfirmed(f.alice, exchange, key, headers ? { headers: table(headers) } : {});
  return outcome(await answer(f.alice));
}

async function bindOutcome(
  f: PermissionFixture,
  key: string,
  kind: "queue" | "exchange" = "queue",
) {
  if (kind === "queue") {
    f.alice.method(1, {
      name: "queue.bind",
      queue: "q",
      exchange: "t",
      routingKey: key,
      noWait: false,
      arguments: table(),
    });
  } else {
    f.alice.method(1, {
      name: "exchange.bind",
      destination: "dst",
      source: "t",
      routingKey: key,
      noWait: false,
      arguments: table(),
    });
  }
  return outcome(await answer(f.alice));
}

describe("publishing to a topic exchange", () => {
  test("is not restricted when the user has no topic permission (RabbitMQ's default)", async () => {
    assert.equal(await publishOutcome(withTopicPermission(), "anything.at.all"), "basic.ack");
  });

  test("with a routing key matching the write pattern is accepted", async () => {
    const f = withTopicPermission({ exchange: "t", write: "^orders\\.", read: ".*" });
    assert.equal(await publishOutcome(f, "orders.created"), "basic.ack");
  });

  test("with a routing key outside the write pattern closes the channel with 403", async () => {
    const f = withTopicPermission({ exchange: "t", write: "^orders\\.", read: ".*" });
    assert.equal(
      await publishOutcome(f, "payments.created"),
      refusedTopic("write", "payments.created"),
    );
  });

  test("checks every CC and BCC routing key too", async () => {
    const f = withTopicPermission({ exchange: "t", write: "^orders\\.", read: ".*" });
    assert.equal(
      await publishOutcome(f, "orders.a", "t", [["CC", array("orders.b", "secret.c")]]),
      refusedTopic("write", "secret.c"),
    );
    const g = withTopicPermission({ exchange: "t", write: "^orders\\.", read: ".*" });
    assert.equal(
      await publishOutcome(g, "orders.a", "t", [["BCC", array("secret.d")]]),
      refusedTopic("write", "secret.d"),
    );
  });

  test("expands {username} and {vhost} in the pattern", async () => {
    const f = withTopicPermission({ exchange: "t", write: "^{username}\\.{vhost}\\.", read: ".*" });
    assert.equal(await publishOutcome(f, "alice./.news"), "basic.ack");
    assert.equal(
      await publishOutcome(
        withTopicPermission({ exchange: "t", write: "^{username}\\.", read: ".*" }),
        "bob.news",
      ),
      refusedTopic("write", "bob.news"),
    );
  });

  test('an empty write pattern allows only the empty routing key (RabbitMQ reads "" as ^$)', async () => {
    assert.equal(
      await publishOutcome(withTopicPermission({ exchange: "t", write: "", read: "" }), ""),
      "basic.ack",
    );
    assert.equal(
      await publishOutcome(withTopicPermission({ exchange: "t", write: "", read: "" }), "a"),
      refusedTopic("write", "a"),
    );
  });

  test("a topic permission for another exchange does not apply", async () => {
    const f = withTopicPermission({ exchange: "amq.topic", write: "^nothing$", read: "^nothing$" });
    assert.equal(await publishOutcome(f, "orders.created"), "basic.ack");
  });

  test("a topic permission on an exchange that is not of type topic is not checked", async () => {
    const f = withTopicPermission({ exchange: "x", write: "^nothing$", read: "^nothing$" });
    assert.equal(await publishOutcome(f, "k", "x"), "basic.ack");
  });

  test("is checked after the write permission on the exchange", async () => {
    const f = permissionFixture({ configure: ".*", write: "^q$", read: ".*" });
    f.broker.users.setTopicPermission("/", USER, { exchange: "t", write: "^nothing$", read: ".*" });
    assert.equal(
      await publishOutcome(f, "k"),
      "403 ACCESS_REFUSED - write access to exchange 't' in vhost '/' refused for user 'alice'",
    );
  });
});

describe("binding from a topic exchange (AMQP 0-9-1 checks the binding key against read)", () => {
  test("queue.bind with a binding key matching the read pattern is accepted", async () => {
    const f = withTopicPermission({ exchange: "t", write: ".*", read: "^orders\\." });
    assert.equal(await bindOutcome(f, "orders.#"), "queue.bind-ok");
  });

  test("queue.bind with a key outside the read pattern closes the channel with 403", async () => {
    const f = withTopicPermission({ exchange: "t", write: ".*", read: "^orders\\." });
    assert.equal(await bindOutcome(f, "#"), refusedTopic("read", "#"));
  });

  test("exchange.bind from a topic exchange is checked the same way", async () => {
    const f = withTopicPermission({ exchange: "t", write: ".*", read: "^orders\\." });
    assert.equal(
      await bindOutcome(f, "payments.*", "exchange"),
      refusedTopic("read", "payments.*"),
    );
  });

  test("queue.unbind is checked too", async () => {
    const f = withTopicPermission({ exchange: "t", write: ".*", read: "^orders\\." });
    f.alice.method(1, {
      name: "queue.unbind",
      queue: "q",
      exchange: "t",
      routingKey: "#",
      arguments: table(),
    });
    assert.equal(outcome(await answer(f.alice)), refusedTopic("read", "#"));
  });

  test("consuming from a queue is governed by queue permissions only", async () => {
    const f = withTopicPermission({ exchange: "t", write: "", read: "" });
    f.alice.method(1, { name: "basic.get", queue: "q", noAck: true });
    assert.equal(outcome(await answer(f.alice)), "basic.get-ok");
  });
});

describe("topic permissions are stored with the definitions", () => {
  test("they survive a save and restore of the definitions", () => {
    const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    broker.bootstrapDefaults();
    broker.addUser(USER, "pw");
    broker.users.setTopicPermission("/", USER, {
      exchange: "amq.topic",
      write: "^{username}\\.",
      read: ".*",
    });
    const snapshot: DefinitionsSnapshot = JSON.parse(JSON.stringify(buildSnapshot(broker)));
    const restored = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    restoreSnapshot(restored, snapshot);
    assert.deepEqual(restored.users.topicPermission("/", USER, "amq.topic"), {
      exchange: "amq.topic",
      write: "^{username}\\.",
      read: ".*",
    });
  });

  test("deleting a vhost drops its topic permissions", () => {
    const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    broker.bootstrapDefaults();
    broker.addVhost("v");
    broker.users.setTopicPermission("v", "guest", { exchange: "amq.topic", write: "a", read: "b" });
    broker.deleteVhost("v");
    assert.equal(broker.users.topicPermission("v", "guest", "amq.topic"), undefined);
  });

  test("a definitions file without topic permissions loads with none", () => {
    const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    broker.bootstrapDefaults();
    const { topicPermissions: _, ...older } = buildSnapshot(broker);
    const restored = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    restoreSnapshot(restored, older as DefinitionsSnapshot);
    assert.equal(restored.users.topicPermissions.size, 0);
  });
});

test("the fixture's exchange t is a topic exchange", async () => {
  // Guards the tests above: a redeclaration as topic is equivalent.
  const f = withTopicPermission();
  f.alice.method(1, exchangeDeclare("t", "topic"));
  assert.equal(outcome(await answer(f.alice)), "exchange.declare-ok");
});
