import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { raftGroupView } from "../../../src/mgmt/cluster-view.js";
import type { HttpResponse } from "../../../src/mgmt/http/http-types.js";
import { metricsText } from "../../../src/mgmt/metrics/metrics-endpoint.js";
import { MgmtService } from "../../../src/mgmt/mgmt-service.js";
import { allUp, oneUnreachable, paused, SELF, source } from "../../support/fake-cluster.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

// The management API and /metrics over a fake ClusterView (test/support/fake-cluster.ts):
// three nodes all up, one unreachable, this node paused; and a single node as before.

function setup(view = allUp()) {
  const broker = memoryBroker();
  const cluster = source(view);
  const ctx = { ...testContext(broker), cluster };
  const call = requester(ctx);
  const get = async (path: string): Promise<HttpResponse> =>
    call("GET", path).catch((e: { toResponse(): HttpResponse }) => e.toResponse());
  return { broker, ctx, cluster, get };
}

type NodeJson = Record<string, unknown>;

describe("/api/nodes in a cluster", () => {
  test("lists every member: this node with its resources, the others as known", async () => {
    const { get } = setup();
    const nodes = (await get("/api/nodes")).body as NodeJson[];
    assert.deepEqual(
      nodes.map((n) => [n.name, n.running, n.type]),
      [
        ["warren@b", true, "disc"],
        ["warren@c", true, "disc"],
        [SELF, true, "disc"],
      ],
    );
    const self = nodes.find((n) => n.name === SELF)!;
    assert.equal(typeof self.mem_used, "number");
    assert.equal(typeof self.fd_used, "number");
    assert.deepEqual(self.partitions, []);
    const links = self.cluster_links as NodeJson[];
    assert.deepEqual(
      links.map((l) => [l.name, l.peer_addr, l.peer_port, l.send_bytes, l.recv_bytes]),
      [
        ["warren@b", "127.0.0.1", 25673, 26673, 27673],
        ["warren@c", "127.0.0.1", 25674, 26674, 27674],
      ],
    );
    assert.deepEqual((links[0]!.stats as NodeJson).send_bytes_details, { rate: 0 });
    const b = nodes.find((n) => n.name === "warren@b")!;
    // Nothing invented for a peer: its memory and descriptors are not known here.
    assert.equal(b.mem_used, undefined);
    assert.equal(b.cluster_address, "127.0.0.1:25673");
    assert.equal(b.mem_alarm, false);
  });

  test("an unreachable member is running false, and this node lists it in its partitions", async () => {
    const { get } = setup(oneUnreachable());
    const nodes = (await get("/api/nodes")).body as NodeJson[];
    const c = nodes.find((n) => n.name === "warren@c")!;
    assert.equal(c.running, false);
    assert.equal(c.unreachable_since, "2026-12-07T11:55:00.000+00:00");
    assert.equal(c.mem_alarm, undefined, "an unreachable node's alarms are not known");
    const self = nodes.find((n) => n.name === SELF)!;
    assert.deepEqual(self.partitions, ["warren@c"]);
    assert.deepEqual(
      (self.cluster_links as NodeJson[]).map((l) => l.name),
      ["warren@b"],
    );
  });

  test("this node is listed even when the runtime's members leave it out", async () => {
    const v = allUp();
    const { get } = setup({ ...v, members: v.members.filter((m) => m.name !== SELF) });
    const nodes = (await get("/api/nodes")).body as NodeJson[];
    assert.deepEqual(
      nodes.map((n) => n.name),
      ["warren@b", "warren@c", SELF],
    );
    assert.equal(typeof nodes[2]!.mem_used, "number");
  });

  test("/api/nodes/{name} answers for any member and 404 for a stranger", async () => {
    const { get } = setup(oneUnreachable());
    const c = await get("/api/nodes/warren@c");
    assert.equal(c.status, 200);
    assert.equal((c.body as NodeJson).running, false);
    assert.equal((await get(`/api/nodes/${SELF}`)).status, 200);
    assert.equal((await get("/api/nodes/warren@z")).status, 404);
  });
});

describe("/api/warren/cluster", () => {
  test("carries the members, partitions, pause and the metadata group", async () => {
    const { get } = setup(paused());
    const body = (await get("/api/warren/cluster")).body as NodeJson;
    assert.equal(body.clustered, true);
    assert.equal(body.node, SELF);
    assert.deepEqual(body.partitions, { [SELF]: ["warren@b", "warren@c"] });
    assert.match((body.paused as { reason: string }).reason, /cannot see a majority/);
    const md = body.metadata as NodeJson;
    assert.equal(md.name, "rabbitmq_metadata");
    assert.equal(md.leader, null);
    assert.equal(md.quorum_critical, true);
  });

  test("a single node is a one-node cluster of itself with no metadata group", async () => {
    const broker = memoryBroker();
    const r = await requester(testContext(broker))("GET", "/api/warren/cluster");
    const body = r.body as NodeJson;
    assert.equal(body.clustered, false);
    assert.deepEqual(
      (body.members as NodeJson[]).map((m) => [m.name, m.running]),
      [[SELF, true]],
    );
    assert.equal(body.metadata, null);
  });
});

describe("node-is-quorum-critical in a cluster", () => {
  test("all three up: stopping this node leaves a majority, ok", async () => {
    const { get } = setup(allUp());
    const r = await get("/api/health/checks/node-is-quorum-critical");
    assert.equal(r.status, 200);
  });

  test("one down: this node is critical for the metadata store, 503 with RabbitMQ's shape", async () => {
    const { get } = setup(oneUnreachable());
    const r = await get("/api/health/checks/node-is-quorum-critical");
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, {
      status: "failed",
      reason:
        "There are quorum queues that would lose their quorum if the target node is shut down",
      queues: [
        {
          readable_name: "rabbitmq_metadata",
          name: "rabbitmq_metadata",
          virtual_host: "(not applicable)",
          type: "process",
        },
      ],
    });
  });

  test("a five-node cluster with one down still has a member to spare", async () => {
    const names = [SELF, "warren@b", "warren@c", "warren@d", "warren@e"];
    const base = allUp();
    const view = {
      ...base,
      members: names.map((name, i) => ({
        name,
        clusterAddress: `127.0.0.1:${25672 + i}`,
        reachable: name !== "warren@e",
      })),
      metadata: { ...base.metadata, voters: names },
    };
    const { get, cluster } = setup(view);
    assert.equal((await get("/api/health/checks/node-is-quorum-critical")).status, 200);
    cluster.current = {
      ...view,
      members: view.members.map((m) => ({ ...m, reachable: m.name < "warren@d" })),
    };
    assert.equal((await get("/api/health/checks/node-is-quorum-critical")).status, 503);
  });
});

describe("/metrics in a cluster", () => {
  test("identity info names the permanent cluster id; raft metrics for the metadata group", () => {
    const { ctx } = setup(allUp());
    const text = metricsText(ctx, false);
    assert.match(
      text,
      /^rabbitmq_identity_info\{rabbitmq_node="warren@localhost",rabbitmq_cluster="warren@localhost",rabbitmq_cluster_permanent_id="3f6c2a9e-cluster"\} 1$/m,
    );
    assert.match(text, /^# TYPE rabbitmq_raft_term_total counter$/m);
    assert.match(text, /^rabbitmq_raft_term_total 4$/m);
    assert.match(text, /^rabbitmq_raft_log_commit_index 120$/m);
    assert.match(text, /^rabbitmq_raft_log_last_applied_index 120$/m);
    assert.match(text, /^rabbitmq_raft_log_last_written_index 121$/m);
    assert.match(text, /^rabbitmq_raft_log_snapshot_index 100$/m);
    assert.match(text, /^warren_cluster_members 3$/m);
    assert.match(text, /^warren_cluster_node_paused 0$/m);
    assert.match(text, /^warren_cluster_peer_sent_bytes_total\{peer="warren@b"\} 26673$/m);
    const perObject = metricsText(ctx, true);
    assert.match(perObject, /^rabbitmq_raft_term_total\{raft_cluster="rabbitmq_metadata"\} 4$/m);
  });

  test("a paused node with a peer away says so in its gauges", () => {
    const { ctx } = setup(paused());
    const text = metricsText(ctx, false);
    assert.match(text, /^warren_cluster_node_paused 1$/m);
    assert.match(text, /^warren_cluster_members_reachable 1$/m);
    assert.match(text, /^warren_cluster_member_reachable\{peer="warren@b"\} 0$/m);
    assert.match(text, /^warren_cluster_partitions 2$/m);
  });

  test("a single node writes no raft or cluster families and the same identity as before", () => {
    const text = metricsText(testContext(memoryBroker()), false);
    assert.doesNotMatch(text, /rabbitmq_raft_|warren_cluster_|permanent_id/);
    assert.match(
      text,
      /^rabbitmq_identity_info\{rabbitmq_node="warren@localhost",rabbitmq_cluster="warren@localhost"\} 1$/m,
    );
  });
});

describe("alarm health checks in a cluster", () => {
  test("a peer's alarm fails the cluster-wide check, not the local one", async () => {
    const v = allUp();
    const alarm = {
      resource: "disk",
      node: "warren@b",
      reason: "free disk space 1 bytes",
    } as const;
    const { get } = setup({
      ...v,
      members: v.members.map((m) => (m.name === "warren@b" ? { ...m, alarms: [alarm] } : m)),
    });
    const cluster = await get("/api/health/checks/alarms");
    assert.equal(cluster.status, 503);
    assert.deepEqual((cluster.body as { alarms: unknown }).alarms, [alarm]);
    assert.equal((await get("/api/health/checks/local-alarms")).status, 200);
  });
});

describe("/api/warren/doctor in a cluster", () => {
  test("runs the cluster's checks over the node's view: a paused node is critical", async () => {
    const { get } = setup(paused());
    const report = (await get("/api/warren/doctor")).body as {
      status: string;
      findings: { check: string }[];
    };
    assert.equal(report.status, "critical");
    assert.deepEqual(
      report.findings.map((f) => f.check),
      ["minority"],
    );
  });
});

describe("a single node's /api/nodes is unchanged", () => {
  test("one node, running, no partitions, no cluster fields", async () => {
    const r = await requester(testContext(memoryBroker()))("GET", "/api/nodes");
    const nodes = r.body as NodeJson[];
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]!.name, SELF);
    assert.deepEqual(nodes[0]!.partitions, []);
    assert.equal("cluster_links" in nodes[0]!, false);
    assert.equal("cluster_address" in nodes[0]!, false);
  });
});

describe("for the runtime", () => {
  test("raftGroupView maps a Raft status: leader by name, voters from the membership", () => {
    const status = {
      id: SELF,
      role: "leader" as const,
      term: 7,
      votedFor: SELF,
      leaderId: SELF,
      commitIndex: 50,
      appliedIndex: 49,
      snapshotIndex: 10,
      firstIndex: 11,
      lastIndex: 52,
      lastTerm: 7,
      stableIndex: 52,
      membership: { voters: [SELF, "warren@b", "warren@c"], learners: [] },
      transferee: null,
    };
    assert.deepEqual(raftGroupView(status, { logEntries: 42 }), {
      role: "leader",
      term: 7,
      leader: SELF,
      voters: [SELF, "warren@b", "warren@c"],
      commitIndex: 50,
      appliedIndex: 49,
      lastIndex: 52,
      snapshotIndex: 10,
      logEntries: 42,
    });
    assert.equal("leader" in raftGroupView({ ...status, leaderId: null }), false);
  });

  test("MgmtService.attachCluster: the API shows the cluster from then on, and not after detach", async () => {
    const service = new MgmtService(memoryBroker(), silentLog, {
      mgmtPort: 0,
      prometheusPort: 0,
      hosts: ["127.0.0.1"],
      dataDir: "/tmp/unused",
      amqp: { connections: () => [], bound: [] },
      requestStop: () => {},
    });
    const call = requester(service.context);
    const names = async () =>
      ((await call("GET", "/api/nodes")).body as NodeJson[]).map((n) => n.name);
    assert.deepEqual(await names(), [SELF]);
    service.attachCluster(source(oneUnreachable()));
    assert.deepEqual(await names(), ["warren@b", "warren@c", SELF]);
    const report = (await call("GET", "/api/warren/doctor")).body as { checks: { id: string }[] };
    assert.ok(report.checks.some((c) => c.id === "minority"));
    service.attachCluster(undefined);
    assert.deepEqual(await names(), [SELF]);
  });
});
