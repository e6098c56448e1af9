import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect, rejectsWith, take } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "warren-restart-"));
  dirs.push(d);
  return d;
}

for (const how of ["SIGKILL", "SIGTERM"] as const) {
  describe(`after a restart by ${how}`, {
    skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
  }, () => {
    const dir = dataDir();
    let broker: BrokerUnderTest;

    test("durable definitions come back and transient ones do not", async () => {
      broker = await startBroker({ dataDir: dir });
      const conn = await connect(broker.url);
      conn.on("error", () => {}); // the broker dies under it
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange("orders", "topic", { durable: true });
      await ch.assertExchange("scratch", "fanout", { durable: false });
      await ch.assertQueue("orders.q", { durable: true, arguments: { "x-message-ttl": 60000 } });
      await ch.assertQueue("temp.q", { durable: false });
      await ch.bindQueue("orders.q", "orders", "order.#");
      for (let i = 0; i < 20; i++) {
        ch.publish("orders", "order.new", Buffer.from(`p${i}`), {
          persistent: i % 2 === 0,
          messageId: String(i),
        });
      }
      await ch.waitForConfirms();
      // Take two without acking (p0 persistent, p1 transient): delivered when the broker stopped.
      const plain = await conn.createChannel();
      const a = await plain.get("orders.q");
      const b = await plain.get("orders.q");
      assert.ok(a && b);
      if (how === "SIGKILL") await broker.kill();
      else await broker.stop();
      broker = await startBroker({ dataDir: dir });
      const conn2 = await connect(broker.url);
      const ch2 = await conn2.createChannel();
      ch2.on("error", () => {});
      await ch2.checkExchange("orders");
      const q = await ch2.checkQueue("orders.q");
      assert.equal(q.messageCount, 10, "the 10 persistent messages, transient ones dropped");
      // Redeclaring with the same arguments works: they were restored exactly.
      await ch2.assertQueue("orders.q", { durable: true, arguments: { "x-message-ttl": 60000 } });
      await rejectsWith(ch2.checkQueue("temp.q"), 404);
      const ch3 = await conn2.createChannel();
      ch3.on("error", () => {});
      await rejectsWith(ch3.checkExchange("scratch"), 404);
      await conn2.close();
    });

    test("recovered messages keep their order; the ones delivered before are redelivered", async () => {
      const conn = await connect(broker.url);
      const ch = await conn.createChannel();
      const got = await take(ch, "orders.q", 10, { noAck: true });
      assert.deepEqual(
        got.map((m) => m.properties.messageId),
        ["0", "2", "4", "6", "8", "10", "12", "14", "16", "18"],
      );
      assert.deepEqual(
        got.map((m) => m.fields.redelivered),
        [true, false, false, false, false, false, false, false, false, false],
      );
      await conn.close();
    });

    test("the binding came back too: routing works without redeclaring it", async () => {
      const conn = await connect(broker.url);
      const ch = await conn.createConfirmChannel();
      ch.publish("orders", "order.paid", Buffer.from("after restart"), { persistent: true });
      await ch.waitForConfirms();
      const [m] = await take(ch, "orders.q", 1, { noAck: true });
      assert.equal(m!.content.toString(), "after restart");
      await conn.close();
      await broker.stop();
    });
  });
}

describe("a long durable queue", {
  skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
}, () => {
  test("pages to disk and delivers every message in order after a SIGKILL", async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", String(1 << 20)] });
    const conn = await connect(broker.url);
    conn.on("error", () => {}); // the broker dies under it
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("long", { durable: true });
    const n = 12000; // beyond the in-memory window, across several segments
    for (let i = 0; i < n; i++)
      ch.sendToQueue("long", Buffer.alloc(300, i % 251), {
        persistent: true,
        messageId: String(i),
      });
    await ch.waitForConfirms();
    // Consume a third with acks so reclamation has something to do, then crash.
    const c2 = await conn.createChannel();
    await c2.prefetch(4000);
    const first = await take(c2, "long", 4000);
    assert.equal(first[3999]!.properties.messageId, "3999");
    c2.ackAll();
    assert.equal((await c2.checkQueue("long")).messageCount, n - 4000);
    await broker.kill();
    broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", String(1 << 20)] });
    const conn2 = await connect(broker.url);
    const ch2 = await conn2.createChannel();
    await ch2.prefetch(1000);
    const rest = await take(ch2, "long", n - 4000, { noAck: true });
    assert.deepEqual(
      rest.map((m) => Number(m.properties.messageId)),
      Array.from({ length: n - 4000 }, (_, i) => i + 4000),
    );
    assert.ok(rest.every((m, i) => m.content.equals(Buffer.alloc(300, (i + 4000) % 251))));
    await conn2.close();
    await broker.stop();
  });
});
