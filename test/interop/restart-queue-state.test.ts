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
    const recovered = await broker.waitForLog((l) => String(l.msg).startsWith("recovered "));
    assert.equal(recovered.messages, 2, "both were recovered");
    // 3.4 s after the publish, but only about a second after the restart: both are gone.
    await sleep(Math.max(0, published + 3400 - Date.now()));
    assert.ok(Date.now() - restarted < 2500, "the check runs well within a TTL of the restart");
    const conn2 = await connect(broker.url);
    const ch2 = await conn2.createChannel();
    assert.equal((await ch2.checkQueue("short-lived")).messageCount, 0);
    assert.equal((await ch2.checkQueue("own-ttl")).messageCount, 0);
    await conn2.close();
    await broker.stop();
  });
});
