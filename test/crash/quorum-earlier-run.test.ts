/**
 * What the quorum kill -9 campaign found first: a consumer on the leader's node holds
 * messages; the node is killed and restarted at once, so it is reachable again when a new
 * leader looks for the nodes of its consumers, and nothing declares the killed run's
 * consumer gone. Its messages must still come back (the restarted node removes the
 * consumers of its earlier runs) and reach a consumer elsewhere, flagged redelivered.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { uniqueName, withTimeout } from "../support/amqplib-helpers.js";
import { channel, range } from "../support/cluster-amqp.js";
import { ClusterQueueFixture } from "../support/cluster-queue-fixture.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
let f: ClusterQueueFixture;

before(async () => {
  if (skip) return;
  f = await ClusterQueueFixture.start();
});

after(async () => {
  await f?.stop();
});

async function leaderOf(queue: string): Promise<string | null> {
  const r = await api(f.mgmtUrl(0), "GET", `/api/queues/%2F/${encodeURIComponent(queue)}`);
  return r.status === 200 ? (r.body as { leader: string | null }).leader : null;
}

test("messages a killed node's consumer held come back though the node returned before a new leader looked", {
  skip,
}, async () => {
  const queue = uniqueName("qq-earlier-run");
  const setup = await f.on(0);
  await (await channel(setup)).assertQueue(queue, {
    durable: true,
    arguments: { "x-queue-type": "quorum" },
  });
  await eventually(`a leader for ${queue}`, async () => (await leaderOf(queue)) !== null, 20_000);
  const leaderName = (await leaderOf(queue))!;
  const leader = [0, 1, 2].find((i) => f.nodeName(i) === leaderName)!;
  const other = [0, 1, 2].find((i) => i !== leader)!;
  const bodies = range(20, "e");
  await f.publishConfirmed(other, queue, bodies);

  // A consumer on the leader's node takes 10 and acknowledges none.
  const held = await f.on(leader);
  const heldCh = await channel(held);
  await heldCh.prefetch(10);
  let taken = 0;
  await heldCh.consume(queue, (m) => {
    if (m) taken++;
  });
  await eventually("10 deliveries on the leader's node", () => taken === 10, 20_000);

  // Killed and back at once: reachable again before the others' election timeout (2-4 s).
  await f.cluster.kill(leader);
  await f.cluster.start(leader);
  await f.cluster.serving(leader, 60_000);

  const conn = await f.on(other);
  const ch = await channel(conn);
  await ch.prefetch(50);
  const got = new Map<string, boolean>();
  await withTimeout(
    new Promise<void>((resolve) => {
      void ch.consume(queue, (m) => {
        if (!m) return;
        got.set(m.content.toString(), m.fields.redelivered);
        ch.ack(m);
        if (got.size === bodies.length) resolve();
      });
    }),
    30_000,
    "all 20 messages on another node",
  ).catch((e: Error) => {
    throw new Error(`${e.message}: got ${got.size} (${[...got.keys()].join(",")})`);
  });
  assert.deepEqual([...got.keys()].sort(), [...bodies].sort());
  const redelivered = [...got.values()].filter(Boolean).length;
  assert.equal(redelivered, 10, "the 10 the killed run held come back flagged redelivered");
  await conn.close();
});
