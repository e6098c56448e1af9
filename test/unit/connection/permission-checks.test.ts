import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PermissionKind } from "../../../src/connection/permissions.js";
import type { Permission } from "../../../src/vhost/users.js";
import type { InProcessClient } from "../../support/in-process-client.js";
import {
  answer,
  exchangeDeclare,
  outcome,
  permissionFixture,
  publishConfirmed,
  queueDeclare,
  str,
  table,
} from "../../support/permission-fixture.js";

// RabbitMQ's table of the permission each AMQP 0-9-1 operation needs
// (https://www.rabbitmq.com/docs/access-control#authorisation). Each operation runs
// once with everything granted, then once per requirement with only that one
// taken away, which must be refused with 403 in RabbitMQ's words.

type Need = readonly [PermissionKind, "queue" | "exchange", string];

interface Operation {
  readonly name: string;
  readonly run: (c: InProcessClient) => void;
  readonly ok: string;
  readonly needs: readonly Need[];
}

const unbindArgs = { routingKey: "k", arguments: table() };

const OPERATIONS: readonly Operation[] = [
  {
    name: "exchange.declare",
    run: (c) => c.method(1, exchangeDeclare("newx")),
    ok: "exchange.declare-ok",
    needs: [["configure", "exchange", "newx"]],
  },
  {
    name: "exchange.declare of a new exchange with an alternate exchange",
    run: (c) =>
      c.method(1, exchangeDeclare("aex", "direct", table([["alternate-exchange", str("x")]]))),
    ok: "exchange.declare-ok",
    needs: [
      ["configure", "exchange", "aex"],
      ["read", "exchange", "aex"],
      ["write", "exchange", "x"],
    ],
  },
  {
    name: "exchange.delete",
    run: (c) =>
      c.method(1, { name: "exchange.delete", exchange: "delx", ifUnused: false, noWait: false }),
    ok: "exchange.delete-ok",
    needs: [["configure", "exchange", "delx"]],
  },
  {
    name: "queue.declare",
    run: (c) => c.method(1, queueDeclare("newq")),
    ok: "queue.declare-ok",
    needs: [["configure", "queue", "newq"]],
  },
  {
    name: "queue.declare of a new queue with a dead-letter exchange",
    run: (c) => c.method(1, queueDeclare("dlq", table([["x-dead-letter-exchange", str("x")]]))),
    ok: "queue.declare-ok",
    needs: [
      ["configure", "queue", "dlq"],
      ["read", "queue", "dlq"],
      ["write", "exchange", "x"],
    ],
  },
  {
    name: "queue.declare of a new queue dead-lettering to the default exchange",
    run: (c) => c.method(1, queueDeclare("dlq", table([["x-dead-letter-exchange", str("")]]))),
    ok: "queue.declare-ok",
    needs: [["write", "exchange", "amq.default"]],
  },
  {
    name: "queue.delete",
    run: (c) =>
      c.method(1, {
        name: "queue.delete",
        queue: "delq",
        ifUnused: false,
        ifEmpty: false,
        noWait: false,
      }),
    ok: "queue.delete-ok",
    needs: [["configure", "queue", "delq"]],
  },
  {
    name: "exchange.bind",
    run: (c) =>
      c.method(1, {
        name: "exchange.bind",
        destination: "dst",
        source: "src",
        noWait: false,
        ...unbindArgs,
      }),
    ok: "exchange.bind-ok",
    needs: [
      ["write", "exchange", "dst"],
      ["read", "exchange", "src"],
    ],
  },
  {
    name: "exchange.unbind",
    run: (c) =>
      c.method(1, {
        name: "exchange.unbind",
        destination: "dst",
        source: "src",
        noWait: false,
        ...unbindArgs,
      }),
    ok: "exchange.unbind-ok",
    needs: [
      ["write", "exchange", "dst"],
      ["read", "exchange", "src"],
    ],
  },
  {
    name: "queue.bind",
    run: (c) =>
      c.method(1, { name: "queue.bind", queue: "q", exchange: "x", noWait: false, ...unbindArgs }),
    ok: "queue.bind-ok",
    needs: [
      ["write", "queue", "q"],
      ["read", "exchange", "x"],
    ],
  },
  {
    name: "queue.unbind",
    run: (c) => c.method(1, { name: "queue.unbind", queue: "q", exchange: "x", ...unbindArgs }),
    ok: "queue.unbind-ok",
    needs: [
      ["write", "queue", "q"],
      ["read", "exchange", "x"],
    ],
  },
  {
    name: "basic.publish",
    run: (c) => publishConfirmed(c, "x", "k"),
    ok: "basic.ack",
    needs: [["write", "exchange", "x"]],
  },
  {
    name: "basic.publish to the default exchange",
    run: (c) => publishConfirmed(c, "", "q"),
    ok: "basic.ack",
    needs: [["write", "exchange", "amq.default"]],
  },
  {
    name: "basic.get",
    run: (c) => c.method(1, { name: "basic.get", queue: "q", noAck: true }),
    ok: "basic.get-ok",
    needs: [["read", "queue", "q"]],
  },
  {
    name: "basic.consume",
    run: (c) =>
      c.method(1, {
        name: "basic.consume",
        queue: "q",
        consumerTag: "",
        noLocal: false,
        noAck: true,
        exclusive: false,
        noWait: false,
        arguments: table(),
      }),
    ok: "basic.consume-ok",
    needs: [["read", "queue", "q"]],
  },
  {
    name: "queue.purge",
    run: (c) => c.method(1, { name: "queue.purge", queue: "q", noWait: false }),
    ok: "queue.purge-ok",
    needs: [["read", "queue", "q"]],
  },
];

const ALL: Permission = { configure: ".*", write: ".*", read: ".*" };

/** Everything granted except `kind` on exactly `name` (the pattern matches every other name). */
function allBut(kind: PermissionKind, name: string): Permission {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return { ...ALL, [kind]: `^(?!${escaped}$)` };
}

async function attempt(permission: Permission, op: Operation): Promise<string> {
  const { alice } = permissionFixture(permission);
  op.run(alice);
  return outcome(await answer(alice));
}

describe("every AMQP 0-9-1 operation checks the permissions RabbitMQ's table gives it", () => {
  for (const op of OPERATIONS) {
    test(`${op.name} succeeds with configure, write and read granted`, async () => {
      assert.equal(await attempt(ALL, op), op.ok);
    });
    for (const [kind, resource, name] of op.needs) {
      test(`${op.name} is refused with 403 without ${kind} on ${resource} '${name}'`, async () => {
        assert.equal(
          await attempt(allBut(kind, name), op),
          `403 ACCESS_REFUSED - ${kind} access to ${resource} '${name}' in vhost '/' refused for user 'alice'`,
        );
      });
    }
  }
});

describe("operations RabbitMQ does not check", () => {
  const NOTHING: Permission = { configure: "", write: "", read: "" };

  test("a passive queue.declare needs no permission", async () => {
    const { alice } = permissionFixture(NOTHING);
    alice.method(1, queueDeclare("q", table(), true));
    assert.equal(outcome(await answer(alice)), "queue.declare-ok");
  });

  test("a passive exchange.declare needs no permission", async () => {
    const { alice } = permissionFixture(NOTHING);
    alice.method(1, exchangeDeclare("x", "direct", table(), true));
    assert.equal(outcome(await answer(alice)), "exchange.declare-ok");
  });

  test("redeclaring an existing exchange with an alternate exchange needs configure only", async () => {
    const { guest, alice } = permissionFixture({ configure: ".*", write: "", read: "" });
    const args = table([["alternate-exchange", str("x")]]);
    guest.method(1, exchangeDeclare("aex", "direct", args));
    guest.pump();
    alice.method(1, exchangeDeclare("aex", "direct", args));
    assert.equal(outcome(await answer(alice)), "exchange.declare-ok");
  });

  test("redeclaring an existing queue with a dead-letter exchange needs configure only", async () => {
    const { guest, alice } = permissionFixture({ configure: ".*", write: "", read: "" });
    const args = table([["x-dead-letter-exchange", str("x")]]);
    guest.method(1, queueDeclare("dlq", args));
    guest.pump();
    alice.method(1, queueDeclare("dlq", args));
    assert.equal(outcome(await answer(alice)), "queue.declare-ok");
  });
});

describe("the order of the checks is RabbitMQ's", () => {
  test("publishing without write to an exchange that does not exist is 403, not 404", async () => {
    const { alice } = permissionFixture({ ...ALL, write: "" });
    alice.publish(1, "nowhere", "k", "x");
    assert.equal(
      outcome(await answer(alice)),
      "403 ACCESS_REFUSED - write access to exchange 'nowhere' in vhost '/' refused for user 'alice'",
    );
  });

  test("binding to the default exchange without read on it says the default exchange is not allowed", async () => {
    const { alice } = permissionFixture({ ...ALL, read: "" });
    alice.method(1, { name: "queue.bind", queue: "q", exchange: "", noWait: false, ...unbindArgs });
    assert.equal(
      outcome(await answer(alice)),
      "403 ACCESS_REFUSED - operation not permitted on the default exchange",
    );
  });

  test("a user without write on the queue is refused before the default exchange is mentioned", async () => {
    const { alice } = permissionFixture({ ...ALL, write: "" });
    alice.method(1, { name: "queue.bind", queue: "q", exchange: "", noWait: false, ...unbindArgs });
    assert.equal(
      outcome(await answer(alice)),
      "403 ACCESS_REFUSED - write access to queue 'q' in vhost '/' refused for user 'alice'",
    );
  });
});

test("a refused operation closes only its channel: the connection and its other channels go on", async () => {
  const { alice } = permissionFixture({ ...ALL, configure: "" });
  alice.openChannel(2);
  alice.received.length = 0;
  alice.method(1, queueDeclare("newq"));
  assert.equal(
    outcome(await answer(alice)),
    "403 ACCESS_REFUSED - configure access to queue 'newq' in vhost '/' refused for user 'alice'",
  );
  alice.method(2, { name: "basic.get", queue: "q", noAck: true });
  alice.pump();
  assert.ok(alice.names().includes("basic.get-ok"));
  assert.equal(alice.conn.state, "open");
});
