/**
 * A 3-node cluster of real Warren processes: definitions made on one node (over AMQP and
 * the management API) are on every node; a node stopped and restarted catches up with what
 * was declared while it was away.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

/** A passive declare on a node: whether the queue is there. */
async function queueExists(url: string, queue: string): Promise<boolean> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    try {
      await ch.checkQueue(queue);
      return true;
    } catch {
      return false;
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

async function seesDefinitions(c: TestCluster, i: number, suffix: string): Promise<boolean> {
  const base = c.nodes[i]!.mgmtUrl;
  const q = await api(base, "GET", `/api/queues/%2F/orders-${suffix}`);
  const x = await api(base, "GET", `/api/exchanges/%2F/events-${suffix}`);
  const b = await api(base, "GET", `/api/bindings/%2F/e/events-${suffix}/q/orders-${suffix}`);
  const u = await api(base, "GET", `/api/users/alice-${suffix}`);
  const p = await api(base, "GET", `/api/policies/%2F/ttl-${suffix}`);
  return (
    q.status === 200 &&
    x.status === 200 &&
    b.status === 200 &&
    Array.isArray(b.body) &&
    b.body.length === 1 &&
    u.status === 200 &&
    p.status === 200
  );
}

async function declareOn(c: TestCluster, i: number, suffix: string): Promise<void> {
  const conn = await amqp.connect(c.url(i));
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(`orders-${suffix}`, { durable: true });
    await ch.assertExchange(`events-${suffix}`, "topic", { durable: true });
    await ch.bindQueue(`orders-${suffix}`, `events-${suffix}`, "order.*");
  } finally {
    await conn.close();
  }
  const base = c.nodes[i]!.mgmtUrl;
  const user = await api(base, "PUT", `/api/users/alice-${suffix}`, {
    password: "secret",
    tags: "",
  });
  assert.ok(user.status === 201 || user.status === 204, JSON.stringify(user));
  const policy = await api(base, "PUT", `/api/policies/%2F/ttl-${suffix}`, {
    pattern: `^orders-${suffix}$`,
    definition: { "message-ttl": 60000 },
    "apply-to": "queues",
  });
  assert.ok(policy.status === 201 || policy.status === 204, JSON.stringify(policy));
}

test("a 3-node cluster: declares on one node are on every node; a restarted node catches up; the whole cluster restarts", {
  skip,
  timeout: 120_000,
}, async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.allServing();
    // The founding definitions: guest can log in on every node.
    await declareOn(c, 0, "a");
    for (const i of [0, 1, 2]) {
      // Committed before declare-ok; applied on the others within moments.
      await eventually(`node ${i} to see the definitions`, () => seesDefinitions(c, i, "a"));
      assert.ok(await queueExists(c.url(i), "orders-a"), `passive declare on node ${i}`);
    }
    assert.equal(await queueExists(c.url(1), "no-such-queue"), false);
    // Every node lists the three members, running, through the cluster view.
    for (const i of [0, 1, 2]) {
      const nodes = await api(c.nodes[i]!.mgmtUrl, "GET", "/api/nodes");
      const listed = (nodes.body as { name: string; running: boolean }[]).map((n) => [
        n.name,
        n.running,
      ]);
      assert.deepEqual(listed.sort(), c.nodes.map((n) => [n.spec.name, true]).sort());
    }

    // Node 3 stops cleanly; the others (a majority) keep taking declares.
    await c.stop(2);
    await declareOn(c, 1, "b");
    assert.ok(await seesDefinitions(c, 1, "b"));
    await c.start(2);
    await c.serving(2);
    // Serving means caught up: what was declared while it was away is there already.
    assert.ok(await seesDefinitions(c, 2, "b"), "the restarted node caught up");
    assert.ok(await seesDefinitions(c, 2, "a"));
    assert.ok(await queueExists(c.url(2), "orders-b"));

    // The whole cluster stops and starts again: each node comes back from its own Raft log.
    await Promise.all([0, 1, 2].map((i) => c.stop(i)));
    await c.startAll();
    await c.allServing();
    for (const i of [0, 1, 2]) {
      assert.ok(await seesDefinitions(c, i, "a"), `node ${i} after the full restart`);
      assert.ok(await seesDefinitions(c, i, "b"), `node ${i} after the full restart`);
    }
    // Founded once: no node founded it again at the restart.
    const founders = c.nodes.flatMap((n) =>
      (n.broker?.logs ?? []).filter(
        (l) => typeof l.msg === "string" && l.msg.startsWith("founding a new cluster"),
      ),
    );
    assert.equal(founders.length, 0);
  } finally {
    await c.stopAll();
  }
});
