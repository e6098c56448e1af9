/**
 * Quorum queues on a real 3-node cluster (issue 17): a queue declared on one node is served
 * on every node (publish on B, consume on C, in order, with prefetch); the management API
 * names its leader, members and online members; and when the leader's node is killed (-9)
 * mid-stream, a follower takes over, the publisher's unconfirmed messages are confirmed or
 * nacked, the consumer on a surviving node carries on without a basic.cancel, and every
 * confirmed message is delivered (lost = 0).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import { sleep, uniqueName, withTimeout } from "../support/amqplib-helpers.js";
import { channel, passiveCount, range } from "../support/cluster-amqp.js";
import { ClusterQueueFixture } from "../support/cluster-queue-fixture.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
const QQ = { "x-queue-type": "quorum" };

let f: ClusterQueueFixture;

before(async () => {
  if (skip) return;
  f = await ClusterQueueFixture.start();
});

after(async () => {
  await f?.stop();
});

interface QueueInfo {
  leader: string | null;
  members: string[];
  online: string[];
  type: string;
}

async function queueInfo(i: number, queue: string): Promise<QueueInfo> {
  const r = await api(f.mgmtUrl(i), "GET", `/api/queues/%2F/${encodeURIComponent(queue)}`);
  assert.equal(r.status, 200, `GET /api/queues of ${queue} on node ${i}`);
  return r.body as QueueInfo;
}

/** Declares a quorum queue through node i and waits until every node knows it and it has a leader. */
async function quorumQueueOn(
  i: number,
  prefix: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  const queue = uniqueName(prefix);
  const conn = await f.on(i);
  const ch = await channel(conn);
  await ch.assertQueue(queue, { durable: true, arguments: { ...QQ, ...args } });
  await conn.close();
  for (let n = 0; n < 3; n++) {
    const other = await f.on(n);
    await eventually(
      `${queue} on node ${n}`,
      async () => (await passiveCount(other, queue)) !== undefined,
      20_000,
    );
    await other.close();
  }
  await eventually(
    `a leader for ${queue}`,
    async () => (await queueInfo(i, queue)).leader !== null,
    20_000,
  );
  return queue;
}

describe("quorum queues on a 3-node cluster", { skip }, () => {
  test("a quorum queue declared on A takes publishes on B and serves a consumer on C in order", async () => {
    const queue = await quorumQueueOn(0, "qq-three");
    const info = await queueInfo(0, queue);
    assert.equal(info.type, "quorum");
    assert.deepEqual([...info.members].sort(), [0, 1, 2].map((i) => f.nodeName(i)).sort());
    assert.ok(info.members.includes(info.leader!), "the leader is a member");
    // client-local, RabbitMQ's default: the declaring node leads once the first election is over.
    await eventually(
      "the declaring node to lead",
      async () => (await queueInfo(0, queue)).leader === f.nodeName(0),
      20_000,
    );
    const bodies = range(1_000, "m");
    await f.publishConfirmed(1, queue, bodies);
    const conn = await f.on(2);
    const ch = await channel(conn);
    await ch.prefetch(50);
    const got: string[] = [];
    let maxUnacked = 0;
    let unacked = 0;
    await withTimeout(
      new Promise<void>((resolve) => {
        ch.consume(queue, (m) => {
          if (!m) return;
          unacked++;
          maxUnacked = Math.max(maxUnacked, unacked);
          got.push(m.content.toString());
          setImmediate(() => {
            unacked--;
            ch.ack(m);
          });
          if (got.length === bodies.length) resolve();
        });
      }),
      60_000,
      "1,000 deliveries on C",
    );
    assert.deepEqual(got, bodies);
    assert.ok(maxUnacked <= 50, `prefetch held across nodes (max unacked ${maxUnacked})`);
    await eventually(
      "the acks to empty the queue",
      async () => (await passiveCount(conn, queue)) === 0,
      20_000,
    );
    await conn.close();
  });

  test("kill -9 of the leader's node mid-stream: a follower takes over and no confirmed message is lost", async () => {
    const queue = await quorumQueueOn(0, "qq-kill");
    const leaderName = (await queueInfo(0, queue)).leader!;
    const leader = [0, 1, 2].find((i) => f.nodeName(i) === leaderName)!;
    const [pubNode, subNode] = [0, 1, 2].filter((i) => i !== leader) as [number, number];

    const sub = await f.on(subNode);
    const subCh = await channel(sub);
    await subCh.prefetch(100);
    const received = new Set<string>();
    let cancelled = false;
    await subCh.consume(queue, (m) => {
      if (!m) {
        cancelled = true;
        return;
      }
      received.add(m.content.toString());
      subCh.ack(m);
    });

    const pub = await f.on(pubNode);
    const pubCh: amqp.ConfirmChannel = await pub.createConfirmChannel();
    const confirmed = new Set<string>();
    const nacked = new Set<string>();
    const total = 3_000;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const body = `k${i}`;
      pending.push(
        new Promise<void>((resolve) => {
          pubCh.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => {
            if (err) nacked.add(body);
            else confirmed.add(body);
            resolve();
          });
        }),
      );
      if (i === 1_000) await f.cluster.kill(leader);
      // A window of 200 in flight keeps the stream going across the failover.
      if (i % 200 === 199) await Promise.all(pending.splice(0));
    }
    await withTimeout(Promise.all(pending), 90_000, "every publish confirmed or nacked");
    assert.equal(confirmed.size + nacked.size, total, "no publish left hanging");
    await eventually(
      "every confirmed message delivered on a surviving node",
      () => [...confirmed].every((b) => received.has(b)),
      60_000,
    );
    assert.equal(cancelled, false, "the consumer on a surviving node was not cancelled");
    const lost = [...confirmed].filter((b) => !received.has(b));
    assert.deepEqual(lost, [], "lost = confirmed and never delivered");
    const info = await queueInfo(pubNode, queue);
    assert.notEqual(info.leader, leaderName, "a follower leads now");
    await sleep(100);
    await sub.close();
    await pub.close();
    await f.restartStopped();
  });

  test("add_member and delete_member change a running queue's group, and its messages stay", async () => {
    const queue = await quorumQueueOn(0, "qq-members", { "x-quorum-initial-group-size": 2 });
    const before = await queueInfo(0, queue);
    assert.equal(before.members.length, 2);
    const outsider = [0, 1, 2].map((i) => f.nodeName(i)).find((n) => !before.members.includes(n))!;
    await f.publishConfirmed(1, queue, range(200, "g"));
    const path = `/api/queues/quorum/%2F/${encodeURIComponent(queue)}/replicas`;
    const added = await api(f.mgmtUrl(2), "POST", `${path}/add`, { node: outsider });
    assert.equal(added.status, 204, JSON.stringify(added.body));
    await eventually(
      `${outsider} a voting member`,
      async () => (await queueInfo(0, queue)).members.length === 3,
      30_000,
    );
    // The new member holds the queue: with the original follower removed, a majority of the
    // remaining two still has every message.
    const info = await queueInfo(0, queue);
    const follower = info.members.find((m) => m !== info.leader && m !== outsider)!;
    const leaderIndex = [0, 1, 2].find((i) => f.nodeName(i) === info.leader)!;
    const removed = await api(f.mgmtUrl(0), "DELETE", `${path}/delete`, { node: follower });
    assert.equal(removed.status, 202, JSON.stringify(removed.body));
    await eventually(
      `${follower} removed`,
      async () => {
        const now = await queueInfo(leaderIndex, queue);
        return now.members.length === 2 && !now.members.includes(follower);
      },
      30_000,
    );
    const conn = await f.on(0);
    const ch = await channel(conn);
    const got: string[] = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      got.push(m.content.toString());
    }
    assert.deepEqual(got, range(200, "g"));
    await conn.close();
  });

  test("x-queue-leader-locator balanced spreads the leaders of queues declared on one node", async () => {
    const queues: string[] = [];
    for (let i = 0; i < 6; i++)
      queues.push(await quorumQueueOn(0, "qq-balanced", { "x-queue-leader-locator": "balanced" }));
    // Balanced over every quorum queue of the cluster (the earlier tests' too).
    let counts = new Map<string, number>();
    await eventually(
      "leaders spread: no node leads more than one queue more than another",
      async () => {
        const all = (await api(f.mgmtUrl(0), "GET", "/api/queues")).body as QueueInfo[];
        const quorum = all.filter((q) => q.type === "quorum");
        if (!queues.every((name) => quorum.some((q) => (q as { name?: string }).name === name)))
          return false;
        counts = new Map([0, 1, 2].map((i) => [f.nodeName(i), 0]));
        for (const q of quorum)
          if (q.leader !== null) counts.set(q.leader, counts.get(q.leader)! + 1);
        const n = [...counts.values()];
        return (
          n.reduce((a, b) => a + b, 0) === quorum.length && Math.max(...n) - Math.min(...n) <= 1
        );
      },
      30_000,
    );
  });

  test("rebalance asked of any node moves leaderships off a node that leads too many", async () => {
    const piled: string[] = [];
    for (let i = 0; i < 4; i++) piled.push(await quorumQueueOn(0, "qq-piled"));
    // client-local: each is handed to node 1 after its first election; rebalance after that.
    for (const q of piled)
      await eventually(
        `${q} led by node 1`,
        async () => (await queueInfo(0, q)).leader === f.nodeName(0),
        20_000,
      );
    // As the node asked sees them (a node that holds no replica of a queue may not know its leader).
    const leaderCounts = async () => {
      const all = (await api(f.mgmtUrl(2), "GET", "/api/queues")).body as QueueInfo[];
      const quorum = all.filter((q) => q.type === "quorum");
      const counts = new Map([0, 1, 2].map((i) => [f.nodeName(i), 0]));
      for (const q of quorum)
        if (q.leader !== null) counts.set(q.leader, counts.get(q.leader)! + 1);
      return { total: quorum.length, counts };
    };
    // Asked of node 3, which leads none of the new queues: the leaders hand over.
    const before = await leaderCounts();
    const r = await api(f.mgmtUrl(2), "POST", "/api/rebalance/queues", {});
    assert.ok(r.status < 300, JSON.stringify(r.body));
    let last = before;
    await eventually(
      "no node leading more than its share",
      async () => {
        last = await leaderCounts();
        return [...last.counts.values()].every((n) => n <= Math.ceil(last.total / 3));
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}: before ${JSON.stringify([...before.counts])}, after ${JSON.stringify([...last.counts])} of ${last.total}; rebalance said ${JSON.stringify(r.body)}`,
      );
    });
  });
});
