/**
 * Growing and shrinking a cluster of real Warren processes with warrenctl's rabbitmqctl
 * verbs (docs/CLUSTER.md, "Growing and shrinking a cluster"): stop_app/start_app on a
 * member, a 4th node added with stop_app, reset, join_cluster, start_app, and a stopped
 * node forgotten with forget_cluster_node. The steps build on each other, in order.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import amqp from "amqplib";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { CLUSTER_SECRET, TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api, freePort, run, WARRENCTL } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

/** eventually(), where a check that throws (a node restarting, a nacked publish) has not passed yet. */
function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  return eventually(what, () => check().catch(() => false), timeoutMs);
}

function ctl(mgmtUrl: string, ...args: string[]) {
  return run(process.execPath, [WARRENCTL, "--url", mgmtUrl, ...args], { timeoutMs: 60_000 });
}

async function declare(url: string, queue: string): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true });
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Publishes `body` (confirmed) through one node, then basic.get through another. */
async function publishThenGet(
  fromUrl: string,
  toUrl: string,
  queue: string,
  body: string,
): Promise<string | null> {
  // A home that just came back is nacked until the link from this node is up again.
  await waitFor(`a confirmed publish to ${queue}`, async () => {
    const pub = await amqp.connect(fromUrl);
    pub.on("error", () => {});
    try {
      const ch = await pub.createConfirmChannel();
      ch.on("error", () => {});
      ch.sendToQueue(queue, Buffer.from(body));
      await ch.waitForConfirms();
      return true;
    } finally {
      await pub.close().catch(() => {});
    }
  });
  const sub = await amqp.connect(toUrl);
  try {
    const ch = await sub.createChannel();
    for (let i = 0; i < 50; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (m) return m.content.toString();
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  } finally {
    await sub.close().catch(() => {});
  }
}

async function hasQueue(mgmtUrl: string, queue: string): Promise<boolean> {
  return (await api(mgmtUrl, "GET", `/api/queues/%2F/${queue}`)).status === 200;
}

interface ClusterJson {
  members: { name: string }[];
  metadata?: { voters: string[]; leader: string | null };
}

async function clusterOf(mgmtUrl: string): Promise<ClusterJson> {
  return (await api(mgmtUrl, "GET", "/api/warren/cluster")).body as ClusterJson;
}

describe("cluster membership verbs", { skip, timeout: 240_000 }, () => {
  let c: TestCluster;
  let node4: BrokerUnderTest | undefined;
  let node4Url = "";
  const node4Name = "node4@127.0.0.1";
  let node4Dir = "";
  let node4Args: string[] = [];

  before(async () => {
    c = await TestCluster.create(3);
    await c.startAll();
    await c.allServing();
    node4Dir = mkdtempSync(join(tmpdir(), "warren-node4-"));
    const mgmtPort = await freePort();
    node4Url = `http://127.0.0.1:${mgmtPort}`;
    // Started alone: no --cluster-nodes, the cluster's secret and a fixed cluster port.
    node4Args = [
      "--node-name",
      node4Name,
      "--cluster-port",
      String(await freePort()),
      "--cluster-secret",
      CLUSTER_SECRET,
      "--mgmt-port",
      String(mgmtPort),
    ];
    node4 = await startBroker({ dataDir: node4Dir, args: node4Args });
  });

  after(async () => {
    await node4?.kill();
    await c?.stopAll();
    if (node4Dir) rmSync(node4Dir, { recursive: true, force: true });
  });

  test("stop_app closes a member's clients with 320 and the reason; start_app rejoins and catches up", async () => {
    const member = c.nodes[1]!;
    // Queues homed on node 1 and on node 2 from before the stop: forwarding works again after.
    await declare(c.url(0), "homed-on-node1");
    await declare(c.url(1), "homed-on-node2");
    await waitFor("node 2 has node 1's queue", () => hasQueue(member.mgmtUrl, "homed-on-node1"));
    await waitFor("node 1 has node 2's queue", () =>
      hasQueue(c.nodes[0]!.mgmtUrl, "homed-on-node2"),
    );
    const conn = await amqp.connect(c.url(1));
    conn.on("error", () => {});
    const closed = new Promise<Error>((resolve) => conn.on("close", resolve));
    const stop = await ctl(member.mgmtUrl, "stop_app");
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.match(stop.stdout, /Stopping rabbit application on node node2@127\.0\.0\.1/);
    const error = await closed;
    assert.match(error.message, /320/);
    assert.match(error.message, /node node2@127\.0\.0\.1 is stopped \(warrenctl stop_app\)/);

    const ready = await api(member.mgmtUrl, "GET", "/api/health/checks/ready-to-serve-clients");
    assert.equal(ready.status, 503);
    const status = await ctl(member.mgmtUrl, "status");
    assert.match(status.stdout, /The app is stopped on node node2@127\.0\.0\.1/);
    await assert.rejects(amqp.connect(c.url(1)));
    const reset = await ctl(c.nodes[0]!.mgmtUrl, "reset");
    assert.notEqual(reset.exitCode, 0);
    assert.match(
      reset.stderr,
      /the app is running on node node1@127\.0\.0\.1; run `warrenctl stop_app` first/,
    );

    // Made while node 2 is away: it must learn it when it comes back.
    await declare(c.url(0), "while-node2-stopped");
    const logsBefore = c.broker(1).logs.length;
    const start = await ctl(member.mgmtUrl, "start_app");
    assert.equal(start.exitCode, 0, start.stderr);
    await c.serving(1, 30_000, logsBefore);
    await waitFor("node 2 sees the queue declared while it was stopped", () =>
      hasQueue(member.mgmtUrl, "while-node2-stopped"),
    );
    await declare(c.url(1), "after-node2-restarted");
    await waitFor("node 1 sees the queue declared on node 2", () =>
      hasQueue(c.nodes[0]!.mgmtUrl, "after-node2-restarted"),
    );
    // Node 2's stand-in for node 1's queue, and node 2 serving its own queue to node 1.
    const viaTwo = await publishThenGet(c.url(1), c.url(0), "homed-on-node1", "via node 2");
    assert.equal(viaTwo, "via node 2");
    const viaOne = await publishThenGet(c.url(0), c.url(1), "homed-on-node2", "via node 1");
    assert.equal(viaOne, "via node 1");
  });

  test("a 4th node joins with stop_app, reset, join_cluster, start_app, gets the metadata and votes", async () => {
    await declare(node4!.url, "node4-own-queue");
    assert.equal((await ctl(node4Url, "stop_app")).exitCode, 0);
    const target = `${c.nodes[0]!.spec.name}:${c.nodes[0]!.spec.clusterPort}`;
    const refused = await ctl(node4Url, "join_cluster", target);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /has data of its own .* run `warrenctl reset` first/);
    const reset = await ctl(node4Url, "reset");
    assert.equal(reset.exitCode, 0, reset.stderr);
    assert.match(reset.stdout, /now a fresh single node/);
    const join = await ctl(node4Url, "join_cluster", target);
    assert.equal(join.exitCode, 0, join.stderr);
    assert.match(join.stdout, /Clustering node node4@127\.0\.0\.1 with node1@127\.0\.0\.1/);
    const logsBefore = node4!.logs.length;
    assert.equal((await ctl(node4Url, "start_app")).exitCode, 0);
    await node4!.waitForLog(
      (l) =>
        node4!.logs.indexOf(l) >= logsBefore &&
        String(l.msg).includes("has caught up with the cluster's metadata"),
      30_000,
    );
    assert.ok(await hasQueue(node4Url, "while-node2-stopped"), "node 4 has the cluster's metadata");
    assert.equal(await hasQueue(node4Url, "node4-own-queue"), false, "its own was reset");
    await waitFor("node 4 votes", async () =>
      ((await clusterOf(c.nodes[0]!.mgmtUrl)).metadata?.voters ?? []).includes(node4Name),
    );
    const seen = await clusterOf(node4Url);
    assert.equal(seen.members.length, 4, JSON.stringify(seen.members));

    // 3 of 4 alive still serve: stop node 3, declare through node 4.
    // A durable classic queue whose home is node 3: forget_cluster_node deletes it.
    await declare(c.url(2), "homed-on-node3");
    await waitFor("node 1 has node 3's queue", () =>
      hasQueue(c.nodes[0]!.mgmtUrl, "homed-on-node3"),
    );
    await c.stop(2);
    await declare(node4!.url, "three-of-four");
    await waitFor("node 1 has the queue declared on node 4", () =>
      hasQueue(c.nodes[0]!.mgmtUrl, "three-of-four"),
    );
  });

  test("forget_cluster_node removes a stopped node; a running one is refused; the forgotten node is told to reset", async () => {
    const n1 = c.nodes[0]!.mgmtUrl;
    const running = await ctl(n1, "forget_cluster_node", c.nodes[1]!.spec.name);
    assert.notEqual(running.exitCode, 0);
    assert.match(running.stderr, /node2@127\.0\.0\.1 is running and reachable/);

    const forget = await ctl(n1, "forget_cluster_node", c.nodes[2]!.spec.name);
    assert.equal(forget.exitCode, 0, forget.stderr);
    assert.match(
      forget.stdout,
      /Removing node node3@127\.0\.0\.1 from the cluster; 1 classic queues homed on node3@127\.0\.0\.1 deleted/,
    );
    assert.equal(await hasQueue(n1, "homed-on-node3"), false);
    await waitFor("every member forgot node 3", async () => {
      for (const url of [n1, c.nodes[1]!.mgmtUrl, node4Url]) {
        const seen = await clusterOf(url);
        if (seen.members.some((m) => m.name === "node3@127.0.0.1")) return false;
        if ((seen.metadata?.voters.length ?? 0) !== 3) return false;
      }
      return true;
    });
    const status = await ctl(n1, "cluster_status");
    assert.doesNotMatch(status.stdout, /node3@127\.0\.0\.1/);

    // The new size is 3: with node 2 stopped, nodes 1 and 4 are still a majority.
    await c.stop(1);
    await declare(c.url(0), "two-of-three");
    await waitFor("node 4 has the queue declared on node 1", () =>
      hasQueue(node4Url, "two-of-three"),
    );

    // Node 3 comes back with its old data: the others refuse it and it says what to do.
    const back = await c.start(2);
    await back.waitForLog(
      (l) =>
        String(l.msg).includes("is not a member of its cluster") && String(l.msg).includes("reset"),
      30_000,
    );
    await c
      .broker(0)
      .waitForLog(
        (l) => String(l.msg).includes("refused cluster traffic from node3@127.0.0.1"),
        30_000,
      );
    await c.stop(2);
    await c.start(1);
    await c.serving(1);
  });

  test("a joined node restarted without --cluster-nodes rejoins from its peer file; stop_app and reset make it leave", async () => {
    await node4!.stop();
    node4 = await startBroker({ dataDir: node4Dir, args: node4Args });
    await node4.waitForLog(
      (l) => String(l.msg).includes("has caught up with the cluster's metadata"),
      30_000,
    );
    await declare(c.url(0), "after-node4-restart");
    await waitFor("node 4 follows the cluster after its restart", () =>
      hasQueue(node4Url, "after-node4-restart"),
    );

    assert.equal((await ctl(node4Url, "stop_app")).exitCode, 0);
    const reset = await ctl(node4Url, "reset");
    assert.equal(reset.exitCode, 0, reset.stderr);
    assert.match(reset.stdout, /node node4@127\.0\.0\.1 left its cluster/);
    await waitFor("node 1 no longer lists node 4", async () => {
      const seen = await clusterOf(c.nodes[0]!.mgmtUrl);
      return (
        !seen.members.some((m) => m.name === node4Name) &&
        (seen.metadata?.voters ?? []).length === 2
      );
    });
    assert.equal((await ctl(node4Url, "start_app")).exitCode, 0);
    // A fresh single node again: its own default vhost, none of the cluster's queues.
    await declare(node4.url, "node4-alone");
    assert.equal(await hasQueue(node4Url, "after-node4-restart"), false);
    assert.equal((await clusterOf(node4Url)).members.length, 1);
    // The two remaining members still have a majority of two.
    await declare(c.url(1), "two-of-two");
  });
});
