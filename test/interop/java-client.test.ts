import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { buildJavaScenarios, type CompiledClient } from "../support/compiled-clients.js";
import { warrenOnly } from "../support/warren-only.js";

// The RabbitMQ Java client 5.0.0 (Debian's librabbitmq-client-java) with its defaults,
// automatic recovery included, compiled once for this file. The scenarios are in
// java/WarrenScenarios.java; each prints what it saw as JSON. A missing JDK or client
// fails every test here, naming the packages.

let broker: BrokerUnderTest;
let built: Promise<CompiledClient>;

before(async () => {
  built = buildJavaScenarios();
  built.catch(() => {}); // reported by each test
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
  (await built?.catch(() => undefined))?.dispose();
});

const java = async <T = Record<string, unknown>>(scenario: string, url = broker.url) =>
  (await built).run<T>(scenario, url);

const upTo = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));

describe("Java RabbitMQ client", () => {
  test("declares an exchange, queue and binding; waitForConfirms sees every ack; manual acks empty the queue", async () => {
    const r = await java<Record<string, unknown> & { queueName: string; lastConfirm: string }>(
      "topology_confirm_consume",
    );
    assert.match(r.queueName, /^amq\.gen-/);
    assert.equal(r.confirmedAll, true);
    assert.equal(r.nacks, 0);
    assert.match(r.lastConfirm, /^ack:20\+?$/, "the last confirm covers the 20th publish");
    assert.equal(r.readyAfterConfirms, 20, "every confirmed message is in the queue");
    assert.equal(r.consumerTag, "java-consumer");
    assert.deepEqual(
      r.bodies,
      upTo(20, (i) => `m${i}`),
    );
    assert.deepEqual(
      r.headers,
      upTo(20, (i) => i),
    );
    assert.deepEqual(
      r.correlationIds,
      upTo(20, (i) => `c-${i}`),
    );
    assert.equal(r.wrongFields, 0, "exchange, routing key, content type, delivery mode");
    assert.equal(r.redelivered, 0);
    assert.equal(r.left, 0);
    assert.equal(r.consumersLeft, 1);
    assert.equal(r.afterCancel, 404, "cancelling the only consumer deletes an auto-delete queue");
  });

  test("an unroutable mandatory publish reaches the ReturnListener with 312 NO_ROUTE before its confirm", async () => {
    const r = await java<{
      confirmedAll: boolean;
      key: string;
      returned: unknown[];
      events: string[];
    }>("mandatory_return");
    assert.equal(r.confirmedAll, true);
    assert.deepEqual(r.returned, [[312, "NO_ROUTE", "amq.direct", r.key, "lost", "lost-1"]]);
    assert.equal(r.events[0], "return", `events: ${r.events}`);
    assert.equal(r.events.filter((e) => e === "return").length, 1, "the plain publish is dropped");
    assert.ok(!r.events.some((e) => e.startsWith("nack")), `events: ${r.events}`);
    assert.equal(r.events.at(-1), "ack:2");
  });

  test("a passive declare of a missing queue closes only that channel with 404", async () => {
    const r = await java<Record<string, unknown> & { missing: string; newChannelSees: string }>(
      "channel_error",
    );
    assert.deepEqual(r.error, [404, `NOT_FOUND - no queue '${r.missing}' in vhost '/'`]);
    assert.equal(r.hardError, false);
    assert.equal(r.channelOpen, false);
    assert.equal(r.connectionOpen, true);
    assert.equal(r.otherChannelGot, "still here");
    assert.match(r.newChannelSees, /^amq\.gen-/);
  });

  test("basicQos(3) holds three unacked deliveries; each ack lets as many more through", async () => {
    assert.deepEqual(await java("qos_prefetch"), {
      ready: 10,
      window: 3,
      afterOneAck: 4,
      afterMultipleAck: 7,
      bodies: upTo(7, String),
    });
  });

  test("deleting a consumer's queue calls Consumer.handleCancel and keeps the channel open", async () => {
    assert.deepEqual(await java("consumer_cancel_notify"), {
      consumerTag: "java-cancelled",
      cancelledTag: "java-cancelled",
      channelOpen: true,
      declareAfter: true,
    });
  });

  test("a 2 s heartbeat is negotiated and an idle connection outlives three intervals", async () => {
    assert.deepEqual(await java("heartbeat"), {
      negotiated: 2,
      shutdowns: [],
      connectionOpen: true,
      declareAfter: true,
    });
  });

  test("under a memory alarm a publisher gets connection.blocked through the BlockedListener", {
    skip: warrenOnly("starts its own Warren with a memory watermark"),
  }, async () => {
    const alarmed = await startBroker({ args: ["--vm-memory-high-watermark", "1MB"] });
    try {
      await alarmed.waitForLog(
        (l) => String(l.msg).includes("memory resource limit alarm set"),
        5000,
      );
      assert.deepEqual(await java("blocked", alarmed.url), { reason: "low on memory" });
    } finally {
      await alarmed.stop();
    }
  });
});
