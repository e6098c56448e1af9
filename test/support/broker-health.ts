import assert from "node:assert/strict";
import { connect, uniqueName, withTimeout } from "./amqplib-helpers.js";

/**
 * Proves the broker still serves a fresh, well-behaved client: connect with amqplib,
 * declare a queue, publish and get one message back, close. Used after a test has
 * abused another connection, to show the damage stayed on that connection.
 */
export async function assertBrokerStillServes(url: string): Promise<void> {
  const conn = await withTimeout(connect(url), 5000, "a healthy connection");
  try {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue(uniqueName("health"), { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from("still serving"));
    await ch.checkQueue(q);
    const m = await ch.get(q, { noAck: true });
    assert.ok(m, "the health-check message comes back");
    assert.equal(m.content.toString(), "still serving");
    await ch.close();
  } finally {
    await conn.close().catch(() => {});
  }
}
