/**
 * A 5-node cluster of real processes keeps serving with 2 nodes lost (3 of 5 are a
 * majority) and pauses once 3 are lost: the 2 left close their clients with 320 and refuse
 * new ones, as RabbitMQ's pause_minority does.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

async function declare(url: string, queue: string): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true });
  } finally {
    await conn.close();
  }
}

test("a 5-node cluster serves with 2 nodes lost and pauses with 3 lost", {
  skip,
  timeout: 180_000,
}, async () => {
  const c = await TestCluster.create(5);
  try {
    await c.startAll();
    await c.allServing(60_000);
    await declare(c.url(0), "before");

    await Promise.all([c.kill(3), c.kill(4)]);
    // Whichever led, a majority of 3 remains: declares go through on all of them.
    for (const i of [0, 1, 2]) await declare(c.url(i), `with-two-lost-${i}`);

    const clients = await Promise.all([0, 1].map((i) => amqp.connect(c.url(i))));
    const closures = clients.map(
      (client) =>
        new Promise<{ code?: number; message?: string }>((resolve) => {
          client.on("error", () => {});
          client.on("close", (e?: { code?: number; message: string }) =>
            resolve({ code: e?.code, message: e?.message }),
          );
        }),
    );
    const lostAtMs = Date.now();
    await c.kill(2);
    const closed = await Promise.race([
      Promise.all(closures),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error("the minority did not pause within 60 s")),
          60_000,
        ).unref(),
      ),
    ]);
    for (const [i, closure] of closed.entries()) {
      assert.equal(closure.code, 320, closure.message);
      assert.match(
        closure.message ?? "",
        new RegExp(`node${i + 1}@127\\.0\\.0\\.1 cannot see a majority`),
      );
    }
    assert.ok(Date.now() - lostAtMs < 60_000);
    for (const i of [0, 1]) {
      await assert.rejects(amqp.connect(c.url(i)), `node ${i} refuses new clients`);
      const ready = await api(
        c.nodes[i]!.mgmtUrl,
        "GET",
        "/api/health/checks/ready-to-serve-clients",
      );
      assert.equal(ready.status, 503);
    }
  } finally {
    await c.stopAll();
  }
});
