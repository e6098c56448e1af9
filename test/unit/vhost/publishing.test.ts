import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AmqpError } from "../../../src/protocol/amqp-error.js";
import { encodeProperties, readHeaders } from "../../../src/protocol/content-properties.js";
import type { FieldTable, FieldValue } from "../../../src/protocol/field-table.js";
import type { BasicProperties } from "../../../src/protocol/generated/properties.js";
import type { Broker } from "../../../src/vhost/broker.js";
import {
  acceptPublish,
  type Publisher,
  publishMessage,
  routePublication,
} from "../../../src/vhost/publishing.js";
import { openClient, testBroker } from "../../support/in-process-client.js";

const str = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
const list = (...keys: string[]): FieldValue => ({ type: "A", value: keys.map(str) });

/** A publisher with every permission, recording what publishing asked of it. */
function publisher(asked: string[] = []): Publisher {
  return {
    user: { name: "guest", tags: [] },
    checkExchangeWrite: (e) => asked.push(`write ${e}`),
    // As topic permissions do: the keys are asked for on topic exchanges only.
    checkRoutingKeys: (e, keys) =>
      asked.push(e.definition.type === "topic" ? `keys ${keys().join(",")}` : "keys"),
    replyKey: undefined,
    routed: (queues) => asked.push(`routed ${queues.map((q) => q.name).join(",")}`),
    noteWork: (n) => asked.push(`work ${n}`),
  };
}

function request(
  exchange: string,
  routingKey: string,
  props: BasicProperties = {},
  mandatory = false,
) {
  return {
    exchange,
    routingKey,
    mandatory,
    properties: encodeProperties(props),
    body: Buffer.from("m"),
  };
}

/** A broker with queues a, b, c bound to amq.direct by their names, and h bound to amq.match. */
function setup(): Broker {
  const broker = testBroker();
  const client = openClient(broker);
  for (const q of ["a", "b", "c", "h"]) {
    client.declareQueue(1, q);
    const headers = q === "h";
    client.method(1, {
      name: "queue.bind",
      queue: q,
      exchange: headers ? "amq.match" : "amq.direct",
      routingKey: q,
      noWait: false,
      arguments: headers ? new Map([["kind", str("x")]]) : new Map(),
    });
  }
  client.pump();
  return broker;
}

const depth = (broker: Broker, q: string) => broker.vhosts.get("/")!.queues.get(q)!.messageCount;

describe("publishing at the vhost level", () => {
  test("one publish decodes its headers table once: topic check, CC/BCC routing and a headers exchange share it", () => {
    const broker = setup();
    const vhost = broker.vhosts.get("/")!;
    const headers: FieldTable = new Map([
      ["CC", list("b")],
      ["BCC", list("c")],
      ["kind", str("x")],
    ]);
    const p = acceptPublish(broker, vhost, publisher(), request("amq.direct", "a", { headers }), 0);
    const table = p.headers.get();
    assert.equal(p.headers.get(), table, "decoded once, then kept");
    assert.equal(p.routingInput("a").headers(), table);
    assert.equal(p.routingInput("b").headers(), table);
    assert.deepEqual(p.headers.ccKeys(), ["b", "c"]);
    const outcome = routePublication(broker, vhost, publisher(), p, 0);
    assert.equal(outcome.route, "queued");
    assert.deepEqual(outcome.queues.map((q) => q.name).sort(), ["a", "b", "c"]);
    // The queues get the message without BCC; the shared table is left as it was.
    const queued = vhost.queues.get("a")!.peekReady(1)[0]!.message;
    assert.deepEqual([...readHeaders(queued.properties, queued.summary).keys()], ["CC", "kind"]);
    assert.equal(table.has("BCC"), true);
  });

  test("the publisher is asked, in RabbitMQ's order: write on the exchange, topic keys, then flow control and work", () => {
    const broker = setup();
    const asked: string[] = [];
    const headers: FieldTable = new Map([["CC", list("b")]]);
    publishMessage(
      broker,
      broker.vhosts.get("/")!,
      publisher(asked),
      request("amq.direct", "a", { headers }),
      0,
    );
    assert.deepEqual(asked, ["write amq.direct", "keys", "routed a,b", "work 2"]);
  });

  test("outcomes: queued, unroutable, returned when mandatory, captured when the vhost captures", () => {
    const broker = setup();
    const vhost = broker.vhosts.get("/")!;
    const queued = publishMessage(broker, vhost, publisher(), request("amq.direct", "a"), 0);
    assert.deepEqual(
      [queued.route, queued.returned, queued.enqueue.now],
      ["queued", false, { accepted: true }],
    );
    const lost = publishMessage(
      broker,
      vhost,
      publisher(),
      request("amq.direct", "x", {}, true),
      0,
    );
    assert.deepEqual([lost.route, lost.returned], ["unroutable", true]);
    broker.setUnroutableCapture("/", "c");
    const kept = publishMessage(
      broker,
      vhost,
      publisher(),
      request("amq.direct", "x", {}, true),
      0,
    );
    assert.deepEqual([kept.route, kept.returned], ["captured", true]);
    assert.equal(depth(broker, "c"), 1);
    assert.equal(broker.counters.messagesPublished, 3);
    assert.equal(broker.counters.messagesUnroutable, 2);
    assert.equal(broker.counters.unroutableCaptured, 1);
    assert.equal(vhost.unroutable, 2);
    assert.equal(vhost.exchange("amq.direct")!.unroutable, 2);
  });

  test("a full queue with reject-publish refuses at once; the others still take it", () => {
    const broker = setup();
    const client = openClient(broker);
    client.declareQueue(1, "full", {
      arguments: new Map([
        ["x-max-length", { type: "I", value: 0 }],
        ["x-overflow", str("reject-publish")],
      ]),
    });
    for (const q of ["full", "a"])
      client.method(1, {
        name: "queue.bind",
        queue: q,
        exchange: "amq.fanout",
        routingKey: "",
        noWait: false,
        arguments: new Map(),
      });
    client.pump();
    const vhost = broker.vhosts.get("/")!;
    const outcome = publishMessage(broker, vhost, publisher(), request("amq.fanout", ""), 0);
    assert.equal(outcome.enqueue.now?.accepted, false);
    assert.deepEqual(outcome.enqueue.now, {
      accepted: false,
      reason: "reject-publish",
      detail: "rejected by a full queue",
    });
    assert.equal(depth(broker, "a"), 1);
    assert.equal(depth(broker, "full"), 0);
  });

  test("checks refuse with RabbitMQ's codes before anything is counted", () => {
    const broker = setup();
    const vhost = broker.vhosts.get("/")!;
    const refuse = (req: ReturnType<typeof request>, code: number, text: RegExp) =>
      assert.throws(
        () => publishMessage(broker, vhost, publisher(), req, 0),
        (e: unknown) => e instanceof AmqpError && e.replyCode === code && text.test(e.replyText),
      );
    refuse(request("nowhere", "a"), 404, /no exchange 'nowhere' in vhost '\/'/);
    refuse(
      request("amq.direct", "a", { userId: "someone" }),
      406,
      /user_id property set to 'someone'/,
    );
    refuse(request("amq.direct", "a", { expiration: "-1" }), 406, /value_negative/);
    refuse(
      request("amq.direct", "a", { replyTo: "amq.rabbitmq.reply-to" }),
      406,
      /fast reply consumer does not exist/,
    );
    refuse(
      request("amq.direct", "a", { headers: new Map([["CC", str("b")]]) }),
      406,
      /unacceptable_type_in_header,"CC",longstr/,
    );
    // The CC header's type is checked when routing by it, after the publish was counted.
    assert.equal(broker.counters.messagesPublished, 1);
  });
});
