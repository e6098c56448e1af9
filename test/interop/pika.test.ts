import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";
import { warrenOnly } from "../support/warren-only.js";

// pika 1.2 (Debian's python3-pika) with a BlockingConnection, run by /usr/bin/python3.
// The scenarios are in python/pika_scenarios.py; each prints what it saw as JSON.

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

const pika = <T = Record<string, unknown>>(scenario: string, url = broker.url, ...args: string[]) =>
  runPythonScenario<T>("pika_scenarios.py", scenario, url, args);

const LOGIN_REFUSED =
  "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.";

describe("pika BlockingConnection", () => {
  test("publishes and consumes with acks, headers intact, leaving the queue empty", async () => {
    const r = await pika("publish_consume");
    assert.deepEqual(r, {
      bodies: Array.from({ length: 10 }, (_, i) => `m${i}`),
      headers: Array.from({ length: 10 }, (_, i) => i),
      left: 0,
    });
  });

  test("an unroutable mandatory publish is returned, and under confirms raises UnroutableError", async () => {
    const r = await pika<{ returned: unknown[]; key: string; unroutable: number[] }>(
      "mandatory_return",
    );
    assert.deepEqual(r.returned, [[312, "NO_ROUTE", "amq.direct", r.key, "lost"]]);
    assert.deepEqual(r.unroutable, [312]);
  });

  test("confirm_delivery: every publish is acked and lands in the queue", async () => {
    assert.deepEqual(await pika("confirms"), { ready: 50 });
  });

  test("tx_select: commit delivers held publishes, rollback drops them and undoes acks", async () => {
    assert.deepEqual(await pika("transactions"), {
      afterRollback: 0,
      beforeCommit: 0,
      afterCommit: 1,
      got: "committed",
      backAfterRolledBackAck: "committed",
      redelivered: true,
    });
  });

  test("basic_qos prefetch_count=2 delivers two, then two more after a multiple ack", async () => {
    assert.deepEqual(await pika("qos"), { window: 2, afterAck: 4 });
  });

  test("exchange_bind forwards only what the binding key matches", async () => {
    assert.deepEqual(await pika("exchange_bind"), { bodies: ["routed"] });
  });

  test("direct reply-to: the reply reaches the amq.rabbitmq.reply-to consumer", async () => {
    const r = await pika<{ replyTo: string; replies: string[][] }>("direct_reply_to");
    assert.match(r.replyTo, /^amq\.rabbitmq\.reply-to\.\S+$/);
    assert.deepEqual(r.replies, [["pong:ping", "c-1"]]);
  });

  test("heartbeat=2 is negotiated and an idle connection lives 6 s on heartbeats both ways", async () => {
    const r = await pika<{ negotiated: number; received: number; sent: number }>("heartbeat");
    assert.equal(r.negotiated, 2);
    assert.ok(r.sent >= 3, `pika sent ${r.sent} heartbeats`);
    assert.ok(r.received >= 3, `the broker sent ${r.received} heartbeats`);
  });

  test("connection.start advertises connection.blocked and RabbitMQ's other capabilities", async () => {
    const r = await pika<{ serverCapabilities: Record<string, boolean> }>("capabilities");
    for (const cap of [
      "publisher_confirms",
      "exchange_exchange_bindings",
      "basic.nack",
      "consumer_cancel_notify",
      "connection.blocked",
      "consumer_priorities",
      "authentication_failure_close",
      "per_consumer_qos",
      "direct_reply_to",
    ]) {
      assert.equal(r.serverCapabilities[cap], true, cap);
    }
  });
});

describe("pika connection refusals", () => {
  test("a wrong password fails with ProbableAuthenticationError carrying 403 ACCESS_REFUSED", async () => {
    const url = broker.url.replace("guest:guest@", "guest:wrong-password@");
    const r = await pika<{ error: string; detail: string }>("connect_error", url);
    assert.equal(r.error, "ProbableAuthenticationError");
    assert.equal(r.detail, `ConnectionClosedByBroker: (403) '${LOGIN_REFUSED}'`);
  });

  test("an unknown vhost fails with 530 NOT_ALLOWED naming the vhost", async () => {
    const r = await pika<{ error: string; detail: string }>(
      "connect_error",
      broker.url,
      "no-such-vhost",
    );
    assert.equal(r.error, "ProbableAccessDeniedError");
    assert.equal(
      r.detail,
      "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost no-such-vhost not found'",
    );
  });

  test("guest logs in from loopback but is refused from another address", {
    skip: warrenOnly("starts its own Warren listening on all addresses"),
  }, async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!external) return; // no non-loopback IPv4 address on this machine: nothing to refuse
    const open = await startBroker({ args: ["--host", "0.0.0.0"] });
    try {
      const loopback = await pika("connect_error", `amqp://guest:guest@127.0.0.1:${open.port}`);
      assert.deepEqual(loopback, { error: null });
      const remote = await pika<{ error: string; detail: string }>(
        "connect_error",
        `amqp://guest:guest@${external}:${open.port}`,
      );
      assert.equal(remote.error, "ProbableAuthenticationError");
      assert.equal(remote.detail, `ConnectionClosedByBroker: (403) '${LOGIN_REFUSED}'`);
      await open.waitForLog(
        (l) => String(l.msg).includes("user 'guest' can only connect via localhost"),
        2000,
      );
    } finally {
      await open.stop();
    }
  });
});
