/**
 * pause_minority with real processes and a real cut: every cluster link goes through the
 * test's own TCP proxies, and cutting one node's proxies isolates it. Its clients are closed
 * with 320 and the reason, new connections are refused, its readiness check fails; the
 * other two keep serving declares; healed, it resumes and catches up.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { eventually as eventuallyWithin } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

/** The partition tests wait a little longer (a pause takes up to 9 s). */
const eventually = (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) =>
  eventuallyWithin(what, check, timeoutMs);

const skip = warrenOnly("starts its own Warren cluster");

async function queueExists(url: string, queue: string): Promise<boolean> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    return await ch.checkQueue(queue).then(
      () => true,
      () => false,
    );
  } finally {
    await conn.close().catch(() => {});
  }
}

test("a node cut off from the others pauses (320 to its clients, new ones refused), the majority serves, and it resumes and catches up when healed", {
  skip,
  timeout: 120_000,
}, async () => {
  const c = await TestCluster.create(3, { proxied: true });
  try {
    await c.startAll();
    await c.allServing();
    const isolated = 2;
    const name = c.nodes[isolated]!.spec.name;
    const client = await amqp.connect(c.url(isolated));
    // amqplib does not count 320 as an error: it comes with the close event.
    client.on("error", () => {});
    // Its exclusive queue goes with the connection the pause closes: the node's own
    // deletion cannot go through the group then, and must not break the close.
    await (await client.createChannel()).assertQueue("", { exclusive: true });
    const closed = new Promise<{ code?: number; message: string; atMs: number }>((resolve) =>
      client.on("close", (e?: { code?: number; message: string }) =>
        resolve({
          code: e?.code,
          message: e?.message ?? "closed without a reason",
          atMs: Date.now(),
        }),
      ),
    );
    const ready = await api(
      c.nodes[isolated]!.mgmtUrl,
      "GET",
      "/api/health/checks/ready-to-serve-clients",
    );
    assert.equal(ready.status, 200);

    const cutAtMs = Date.now();
    c.isolate(isolated);
    let timer: NodeJS.Timeout | undefined;
    const closure = await Promise.race([
      closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const lines = c
            .broker(isolated)
            .logs.slice(-30)
            .map((l) => JSON.stringify(l));
          reject(new Error(`no 320 within 30 s; the isolated node's log:\n${lines.join("\n")}`));
        }, 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(closure.code, 320, closure.message);
    assert.match(closure.message, new RegExp(`node ${name} cannot see a majority of the cluster`));
    // A follower forgets its leader within 2-4 s, then waits 5 s more; room for a loaded machine.
    assert.ok(closure.atMs - cutAtMs < 20_000, `closed after ${closure.atMs - cutAtMs} ms`);
    await assert.rejects(amqp.connect(c.url(isolated)), "a new connection is refused");
    const health = await api(
      c.nodes[isolated]!.mgmtUrl,
      "GET",
      "/api/health/checks/ready-to-serve-clients",
    );
    assert.equal(health.status, 503);
    assert.match(JSON.stringify(health.body), /cannot see a majority/);
    // The operator view (ClusterView through /api/nodes): the others unreachable from here,
    // and this node's partition.
    const nodes = await api(c.nodes[isolated]!.mgmtUrl, "GET", "/api/nodes");
    assert.equal(nodes.status, 200);
    const byName = new Map(
      (nodes.body as { name: string; running: boolean; partitions: string[] }[]).map((n) => [
        n.name,
        n,
      ]),
    );
    assert.equal(byName.size, 3, JSON.stringify(nodes.body));
    assert.equal(byName.get(name)?.running, true);
    assert.deepEqual([...(byName.get(name)?.partitions ?? [])].sort(), [
      c.nodes[0]!.spec.name,
      c.nodes[1]!.spec.name,
    ]);
    assert.equal(byName.get(c.nodes[0]!.spec.name)?.running, false);
    // A change asked of the paused node fails at once, not after the group's 10 s wait.
    const askedAtMs = Date.now();
    const change = await api(
      c.nodes[isolated]!.mgmtUrl,
      "PUT",
      "/api/queues/%2F/asked-while-paused",
      {
        durable: true,
      },
    );
    assert.equal(change.status, 503, JSON.stringify(change.body));
    assert.match(
      JSON.stringify(change.body),
      /cannot see a majority of the cluster; the change was not made/,
    );
    assert.ok(Date.now() - askedAtMs < 5_000, `answered after ${Date.now() - askedAtMs} ms`);
    // The connection was released whole (its exclusive queue's deletion could not go
    // through the group: logged, not thrown into the close).
    const isolatedLog = c.broker(isolated);
    await isolatedLog.waitForLog(
      (l) =>
        typeof l.msg === "string" &&
        l.msg.startsWith("connection closed: CONNECTION_FORCED") &&
        l.msg.includes("cannot see a majority"),
      5_000,
    );
    await isolatedLog.waitForLog(
      (l) =>
        typeof l.msg === "string" &&
        l.msg.includes("queues.drop-owned did not go through the metadata group"),
      5_000,
    );
    // The log says which peers are unreachable.
    await c
      .broker(isolated)
      .waitForLog(
        (l) =>
          typeof l.msg === "string" &&
          /cluster peer node\d@127\.0\.0\.1 is unreachable since/.test(l.msg),
        10_000,
      );

    // The majority keeps serving declares (after electing a leader if the cut one led).
    const conn = await amqp.connect(c.url(0));
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue("declared-during-the-cut", { durable: true });
    } finally {
      await conn.close();
    }
    // Committed by both; the other applies it with the leader's next message.
    await eventually("the other majority node to have the queue", () =>
      queueExists(c.url(1), "declared-during-the-cut"),
    );

    c.heal();
    await c
      .broker(isolated)
      .waitForLog(
        (l) => typeof l.msg === "string" && l.msg.includes("sees a majority of the cluster again"),
        30_000,
      );
    await eventually("the healed node to serve and have the queue declared meanwhile", () =>
      queueExists(c.url(isolated), "declared-during-the-cut").catch(() => false),
    );
  } finally {
    await c.stopAll();
  }
});
