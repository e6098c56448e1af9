import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Connection, connect } from "../support/amqplib-helpers.js";
import { publishFrames } from "../support/in-process-client.js";
import { api, startMgmtBroker } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";

const skip = process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false;
const MESSAGES = 2_000_000;

interface Status {
  event_loop_stalls?: { count: number; longest_ms: number; recent: { during: string }[] };
  chores?: string[];
}

async function stallCount(mgmtUrl: string): Promise<number> {
  const status = (await api(mgmtUrl, "GET", "/api/warren/status")).body as Status;
  return status.event_loop_stalls?.count ?? Number.NaN;
}

/** Publishes `count` small messages to a queue through a raw socket, as fast as TCP takes them. */
async function fill(host: string, port: number, queue: string, persistent: boolean, count: number) {
  const { client } = await RawAmqpClient.open(host, port);
  await client.openChannel(1);
  const one = publishFrames(1, "", queue, "m", persistent ? { deliveryMode: 2 } : {});
  const batch = Buffer.concat(Array.from({ length: 50_000 }, () => one));
  const socket = (client as unknown as { socket: import("node:net").Socket }).socket;
  for (let sent = 0; sent < count; sent += 50_000) {
    if (!socket.write(batch)) await new Promise((r) => socket.once("drain", r));
  }
  return client;
}

async function waitForCount(conn: Connection, queue: string, count: number): Promise<void> {
  const ch = await conn.createChannel();
  for (let i = 0; i < 1200; i++) {
    const { messageCount } = await ch.checkQueue(queue);
    if (messageCount === count) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await ch.checkQueue(queue)).messageCount, count);
  await ch.close();
}

/**
 * Round trips through the broker while `op` runs and until the status shows no
 * chores left: the worst one is how long the broker stopped answering.
 */
async function worstRoundTripDuring(
  conn: Connection,
  mgmtUrl: string,
  op: () => Promise<unknown>,
): Promise<number> {
  const ch = await conn.createChannel();
  let worst = 0;
  let running = true;
  const pinger = (async () => {
    while (running) {
      const t0 = performance.now();
      await ch.checkQueue("ping");
      worst = Math.max(worst, performance.now() - t0);
    }
  })();
  await op();
  for (let i = 0; i < 600; i++) {
    const status = (await api(mgmtUrl, "GET", "/api/warren/status")).body as Status;
    if ((status.chores ?? []).length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  running = false;
  await pinger;
  await ch.close();
  return worst;
}

describe("work that grows with a queue's length never stalls the node", { skip }, () => {
  test("purging and deleting a 2M-message queue drops none of 20 idle heartbeat=5 clients, and the event loop never pauses 100 ms", {
    timeout: 300_000,
  }, async () => {
    const { broker, mgmtUrl, stop } = await startMgmtBroker();
    const idle: Connection[] = [];
    try {
      let dropped = 0;
      for (let i = 0; i < 20; i++) {
        const c = await connect(broker.url, { heartbeat: 5 });
        c.on("error", () => {});
        c.on("close", () => dropped++);
        idle.push(c);
      }
      const conn = await connect(broker.url);
      const ch = await conn.createChannel();
      await ch.assertQueue("ping", { durable: false });
      await ch.assertQueue("transient-big", { durable: false });
      await ch.assertQueue("durable-big", { durable: true });
      const filler = await fill(broker.host, broker.port, "transient-big", false, MESSAGES);
      await waitForCount(conn, "transient-big", MESSAGES);
      const stallsBefore = await stallCount(mgmtUrl);

      let purged = 0;
      const purgeRtt = await worstRoundTripDuring(conn, mgmtUrl, async () => {
        purged = (await ch.purgeQueue("transient-big")).messageCount;
      });
      assert.equal(purged, MESSAGES);
      const stallsAfterPurge = await stallCount(mgmtUrl);

      const filler2 = await fill(broker.host, broker.port, "durable-big", true, MESSAGES);
      await waitForCount(conn, "durable-big", MESSAGES);
      const stallsMid = await stallCount(mgmtUrl);
      let deleted = 0;
      const deleteRtt = await worstRoundTripDuring(conn, mgmtUrl, async () => {
        deleted = (await ch.deleteQueue("durable-big")).messageCount;
      });
      assert.equal(deleted, MESSAGES);
      const stallsAfterDelete = await stallCount(mgmtUrl);
      const status = (await api(mgmtUrl, "GET", "/api/warren/status")).body as Status;

      assert.equal(dropped, 0, "no idle heartbeat=5 client was dropped");
      assert.ok(purgeRtt < 250, `the broker kept answering during the purge: worst ${purgeRtt} ms`);
      assert.ok(deleteRtt < 250, `and during the delete: worst ${deleteRtt} ms`);
      // The broker's own watch: no pause of 100 ms or more while purging, nor while deleting.
      assert.equal(
        stallsAfterPurge - stallsBefore + (stallsAfterDelete - stallsMid),
        0,
        `stalls: ${JSON.stringify(status.event_loop_stalls?.recent)}`,
      );
      filler.destroy();
      filler2.destroy();
      await conn.close();
    } finally {
      for (const c of idle) await c.close().catch(() => {});
      await stop();
    }
  });
});
