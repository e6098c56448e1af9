import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { buildGoScenarios, type CompiledClient } from "../support/compiled-clients.js";
import { warrenOnly } from "../support/warren-only.js";

// amqp091-go 1.5.0 (Debian's golang-github-rabbitmq-amqp091-go-dev), the Go client RabbitMQ
// maintains, built once for this file. The scenarios are in go/scenarios.go; each prints
// what it saw as JSON. A missing toolchain fails every test here, naming the packages.

let broker: BrokerUnderTest;
let built: Promise<CompiledClient>;

before(async () => {
  built = buildGoScenarios();
  built.catch(() => {}); // reported by each test
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
  (await built?.catch(() => undefined))?.dispose();
});

const go = async <T = Record<string, unknown>>(scenario: string, url = broker.url) =>
  (await built).run<T>(scenario, url);

const upTo = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));

describe("Go amqp091-go client", () => {
  test("declares an exchange, queue and binding; every publish is confirmed; manual acks empty the queue", async () => {
    const r = await go<Record<string, unknown> & { queueName: string }>("topology_confirm_consume");
    assert.match(r.queueName, /^amq\.gen-/);
    assert.deepEqual(
      r.confirmTags,
      upTo(20, (i) => i + 1),
    );
    assert.equal(r.acked, 20);
    assert.equal(r.readyAfterConfirms, 20, "every confirmed message is in the queue");
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
    assert.equal(r.wrongFields, 0, "exchange, routing key, content type, delivery mode, tag");
    assert.equal(r.redelivered, 0);
    assert.equal(r.left, 0);
    assert.equal(r.consumersLeft, 0);
  });

  test("an unroutable mandatory publish comes back to NotifyReturn with 312 NO_ROUTE and is confirmed", async () => {
    const r = await go<Record<string, unknown> & { key: string }>("mandatory_return");
    assert.deepEqual(r.returned, [312, "NO_ROUTE", "amq.direct", r.key, "lost"]);
    assert.deepEqual(r.returnedProps, ["text/plain", "lost-1"]);
    assert.deepEqual(r.confirms, [1, true, 2, true]);
    assert.equal(r.moreReturns, 0, "a plain unroutable publish is not returned");
  });

  test("a passive declare of a missing queue closes only that channel with 404", async () => {
    const r = await go<Record<string, unknown> & { missing: string }>("channel_error");
    assert.equal(r.code, 404);
    assert.equal(r.reason, `NOT_FOUND - no queue '${r.missing}' in vhost '/'`);
    assert.equal(r.fromServer, true);
    assert.equal(r.notifiedCode, 404, "NotifyClose reports the channel.close");
    assert.equal(r.channelClosed, true);
    assert.equal(r.connectionClosed, false);
    assert.equal(r.otherChannelGot, "still here");
    assert.equal(r.newChannelError, null);
  });

  test("Qos prefetch 3 holds three unacked deliveries; each ack lets as many more through", async () => {
    assert.deepEqual(await go("qos_prefetch"), {
      window: 3,
      afterOneAck: 4,
      afterMultipleAck: 7,
      bodies: upTo(7, String),
    });
  });

  test("deleting a consumer's queue sends basic.cancel to NotifyCancel and keeps the channel open", async () => {
    assert.deepEqual(await go("consumer_cancel_notify"), {
      cancelledTag: "go-cancelled",
      deliveriesClosed: true,
      channelClosed: false,
      declareAfter: null,
    });
  });

  test("a 2 s heartbeat is negotiated and an idle connection outlives three intervals", async () => {
    assert.deepEqual(await go("heartbeat"), {
      negotiatedSeconds: 2,
      closedWhileIdle: null,
      connectionClosed: false,
      declareAfter: null,
    });
  });

  test("TestChannelExceptionWithCloseIssue43, 50 times: a channel.close crossing the broker's 404 leaves channel 2 and the connection working", async () => {
    // Timing-dependent in the client's suite; 50 runs failed 50 times before the fix.
    assert.deepEqual(await go("channel_exception_close"), {
      runs: 50,
      failed: 0,
      firstFailure: null,
    });
  });

  test("TestConcurrentClose, 50 times: 32 goroutines closing one connection get nil, ErrClosed or a socket error, never a 501 EOF", async () => {
    const r = await go<{ runs: number; failedRuns: number; firstFailure: unknown }>(
      "concurrent_close",
    );
    assert.deepEqual(
      { runs: r.runs, failedRuns: r.failedRuns, firstFailure: r.firstFailure },
      { runs: 50, failedRuns: 0, firstFailure: null },
    );
  });

  test("TestIntegrationConsumeFlow: Flow(false) is refused with 540 NOT_IMPLEMENTED, closing that connection only", async () => {
    assert.deepEqual(await go("consume_flow"), {
      firstBody: "pub 1",
      code: 540,
      reason: "NOT_IMPLEMENTED - active=false",
      fromServer: true,
      subConnectionClosed: true,
      publisherDeclare: null,
    });
  });

  test("under a memory alarm a publisher gets connection.blocked through NotifyBlocked", {
    skip: warrenOnly("starts its own Warren with a memory watermark"),
  }, async () => {
    const alarmed = await startBroker({ args: ["--vm-memory-high-watermark", "1MB"] });
    try {
      await alarmed.waitForLog(
        (l) => String(l.msg).includes("memory resource limit alarm set"),
        5000,
      );
      assert.deepEqual(await go("blocked", alarmed.url), { active: true, reason: "low on memory" });
    } finally {
      await alarmed.stop();
    }
  });
});
