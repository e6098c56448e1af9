import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connect } from "../support/amqplib-helpers.js";
import { startBroker } from "../support/broker-process.js";

const skip = process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false;

describe("memory has a node-wide bound", { skip }, () => {
  test("a fanout flood to 1,000 queues ends in the memory alarm and blocked publishers, never a heap out of memory", async () => {
    // A small heap keeps it quick: with V8's default 4 GiB the same flood died after
    // about 100k publishes, with the watermark (60% of RAM) never reached.
    const broker = await startBroker({ env: { NODE_OPTIONS: "--max-old-space-size=256" } });
    try {
      const conn = await connect(broker.url);
      let blocked = false;
      const onBlocked = new Promise<void>((resolve) =>
        conn.on("blocked", () => {
          blocked = true;
          resolve();
        }),
      );
      const ch = await conn.createChannel();
      await ch.assertExchange("flood", "fanout", { durable: false });
      for (let i = 0; i < 1000; i++) {
        await ch.assertQueue(`flood-${i}`, { durable: false });
        await ch.bindQueue(`flood-${i}`, "flood", "");
      }
      const body = Buffer.alloc(16, 7);
      const deadline = Date.now() + 90_000;
      let published = 0;
      const exited = new Promise<void>((resolve) => broker.process?.once("exit", () => resolve()));
      while (!blocked && Date.now() < deadline && broker.process?.exitCode === null) {
        if (!ch.publish("flood", "", body)) {
          // Full socket: wait for it to drain, or for the block, the broker's death or the deadline.
          await Promise.race([
            new Promise((r) => ch.once("drain", r)),
            onBlocked,
            exited,
            new Promise((r) => setTimeout(r, 1000)),
          ]);
        }
        if (++published % 500 === 0) await new Promise((r) => setImmediate(r));
      }
      assert.equal(broker.process?.exitCode, null, `warren died: ${broker.stderr().slice(-800)}`);
      assert.ok(blocked, `the publisher was blocked (published ${published})`);
      await broker.waitForLog(
        (l) => typeof l.msg === "string" && l.msg.includes("memory resource limit alarm set"),
      );
      // The node still answers: a new connection declares and deletes a queue.
      const other = await connect(broker.url);
      const och = await other.createChannel();
      const { queue } = await och.assertQueue("", { exclusive: true });
      await och.deleteQueue(queue);
      await other.close();
      const stalls = broker.logs
        .filter((l) => typeof l.msg === "string" && l.msg.startsWith("event loop delay reached"))
        .map((l) => Number(l.maxMs));
      assert.ok(
        stalls.every((ms) => ms < 2000),
        `the event loop kept turning: worst delays ${stalls.join(", ")} ms`,
      );
      assert.doesNotMatch(broker.stderr(), /heap out of memory/);
      // The blocked connection cannot finish a close handshake: the broker's stop ends it.
      conn.on("error", () => {});
    } finally {
      await broker.stop();
    }
  });
});
