import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect, sleep, take } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "warren-qstate-"));
  dirs.push(d);
  return d;
}

async function restart(broker: BrokerUnderTest, dir: string): Promise<BrokerUnderTest> {
  await broker.kill();
  return startBroker({ dataDir: dir });
}

describe("queue state across a SIGKILL", {
  skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
}, () => {
  test("a poison message's delivery count survives: it hits its delivery limit after the restart", async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    const conn = await connect(broker.url);
    conn.on("error", () => {});
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("dead", "fanout", { durable: true });
    await ch.assertQueue("graveyard", { durable: true });
    await ch.bindQueue("graveyard", "dead", "");
    await ch.assertQueue("work", {
      durable: true,
      arguments: { "x-delivery-limit": 2, "x-dead-letter-exchange": "dead" },
    });
    ch.sendToQueue("work", Buffer.from("poison"), { persistent: true });
    await ch.waitForConfirms();
    for (let i = 0; i < 2; i++) {
      const m = await ch.get("work");
      assert.ok(m);
      ch.nack(m, false, true);
    }
    await ch.checkQueue("work"); // the nacks are processed
    broker = await restart(broker, dir);
    const conn2 = await connect(broker.url);
    const ch2 = await conn2.createChannel();
    const third = await ch2.get("work");
    assert.ok(third, "the message is still there after the restart");
    assert.equal(third.fields.redelivered, true);
    assert.equal(
      third.properties.headers?.["x-delivery-count"],
      2,
      "two deliveries before this one",
    );
    ch2.nack(third, false, true);
    const [dead] = await take(ch2, "graveyard", 1, { noAck: true });
    assert.equal(dead!.content.toString(), "poison");
    assert.equal(
      (dead!.properties.headers!["x-death"] as { reason: string }[])[0]!.reason,
      "delivery_limit",
    );
    await conn2.close();
    await broker.stop();
  });

  test("TTL deadlines count from the original publish, not from the restart", async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    const conn = await connect(broker.url);
    conn.on("error", () => {});
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("short-lived", { durable: true, arguments: { "x-message-ttl": 3000 } });
    await ch.assertQueue("own-ttl", { durable: true });
    const published = Date.now();
    ch.sendToQueue("short-lived", Buffer.from("q-ttl"), { persistent: true });
    ch.sendToQueue("own-ttl", Buffer.from("m-ttl"), { persistent: true, expiration: "3000" });
    await ch.waitForConfirms();
    await sleep(2000);
    broker = await restart(broker, dir);
    const restarted = Date.now();
    try {
      const recovered = await broker.waitForLog((l) => String(l.msg).startsWith("recovered "));
      assert.equal(recovered.messages, 2, "both were recovered");
      // Had the TTLs restarted with the broker, both messages would live until restarted + 3 s.
      // Counted from the publish, they expire at published + 3 s (queue ticks drop them).
      const conn2 = await connect(broker.url);
      const ch2 = await conn2.createChannel();
      const counts = async () => [
        (await ch2.checkQueue("short-lived")).messageCount,
        (await ch2.checkQueue("own-ttl")).messageCount,
      ];
      let left = await counts();
      while ((left[0]! > 0 || left[1]! > 0) && Date.now() < restarted + 2800) {
        await sleep(50);
        left = await counts();
      }
      const goneAfterMs = Date.now() - restarted;
      assert.deepEqual(left, [0, 0], "both expired");
      assert.ok(
        goneAfterMs < 2800,
        `gone ${goneAfterMs} ms after the restart, before a TTL counted from the restart could end`,
      );
      assert.ok(
        Date.now() - published >= 3000,
        `gone ${Date.now() - published} ms after the publish: not before their TTL`,
      );
      await conn2.close();
    } finally {
      await broker.stop();
    }
  });
});
