import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HttpResponse } from "../../../src/mgmt/http/http-types.js";
import { metricsText } from "../../../src/mgmt/metrics/metrics-endpoint.js";
import type { QuorumQueueStatus } from "../../../src/quorum/quorum-admin.js";
import { allUp, SELF, source } from "../../support/fake-cluster.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";
import { B, C, declareQueues, FakeQuorumAdmin, healthy, withOffline } from "./fake-quorum-admin.js";

// The management API and /metrics over a fake QuorumAdmin: RabbitMQ 4's replica endpoints
// with their status codes, leader/members/online on queue objects, the quorum-critical health
// check, and the per-replica Raft families.

function setup(
  statuses: QuorumQueueStatus[] = [healthy("orders"), healthy("events", B)],
  clustered = true,
) {
  const broker = memoryBroker();
  declareQueues(broker, statuses);
  const quorum = new FakeQuorumAdmin(statuses);
  const ctx = {
    ...testContext(broker),
    ...(clustered ? { cluster: source(allUp()) } : {}),
    quorum,
  };
  const call = requester(ctx);
  const request = (method: string, path: string, body?: unknown): Promise<HttpResponse> =>
    call(method, path, body).catch((e: { toResponse(): HttpResponse }) => e.toResponse());
  return { broker, ctx, quorum, request };
}

type Json = Record<string, unknown>;

describe("queue objects", () => {
  test("a quorum queue shows its leader (also as node), members and online members", async () => {
    const { request } = setup([withOffline(healthy("events", B), [C])]);
    const r = await request("GET", "/api/queues/%2F/events");
    assert.equal(r.status, 200);
    const q = r.body as Json;
    assert.equal(q.leader, B);
    assert.equal(q.node, B);
    assert.deepEqual(q.members, [SELF, B, C]);
    assert.deepEqual(q.online, [SELF, B]);
  });

  test("a classic queue's leader and only member is its node; a quorum queue without a leader shows null", async () => {
    const { request, broker } = setup([withOffline(healthy("orders"), [B, C])]);
    declareQueues(broker, [healthy("plain")]);
    const list = (await request("GET", "/api/queues")).body as Json[];
    const plain = list.find((q) => q.name === "plain")!;
    assert.deepEqual([plain.leader, plain.members, plain.online], [SELF, [SELF], [SELF]]);
    const orders = list.find((q) => q.name === "orders")!;
    assert.equal(orders.leader, null);
    assert.equal(orders.node, SELF);
    assert.deepEqual(orders.online, [SELF]);
  });
});

describe("replica endpoints", () => {
  test("add: 204, delete: 202, as RabbitMQ; the runtime is asked", async () => {
    const { request, quorum } = setup();
    const add = await request("POST", "/api/queues/quorum/%2F/orders/replicas/add", {
      node: "warren@d",
    });
    assert.equal(add.status, 204);
    const del = await request("DELETE", "/api/queues/quorum/%2F/orders/replicas/delete", {
      node: "warren@d",
    });
    assert.equal(del.status, 202);
    assert.deepEqual(quorum.calls, [
      "addMember / orders warren@d",
      "deleteMember / orders warren@d",
    ]);
  });

  test("a refusal is 503 with the reason; an unknown queue 404; no node 400", async () => {
    const { request, broker } = setup();
    declareQueues(broker, [healthy("plain")]);
    const refused = await request("POST", "/api/queues/quorum/%2F/orders/replicas/add", {
      node: "warren@gone",
    });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { error: "service_unavailable", reason: "node_not_running" });
    const classic = await request("POST", "/api/queues/quorum/%2F/plain/replicas/add", {
      node: B,
    });
    assert.deepEqual(classic.body, {
      error: "service_unavailable",
      reason: "classic_queue_not_supported",
    });
    const missing = await request("POST", "/api/queues/quorum/%2F/nope/replicas/add", { node: B });
    assert.equal(missing.status, 404);
    const noNode = await request("POST", "/api/queues/quorum/%2F/orders/replicas/add", {});
    assert.equal(noNode.status, 400);
  });

  test("grow onto a running member answers each queue's outcome; another node is 404", async () => {
    const two = { ...healthy("a1"), members: [SELF, B], online: [SELF, B] };
    const { request, quorum } = setup([two, healthy("full")]);
    const r = await request("POST", `/api/queues/quorum/replicas/on/${C}/grow`, {
      strategy: "all",
      vhost_pattern: "/",
      queue_pattern: ".*",
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, [{ vhost: "/", name: "a1", size: 3, result: "ok", ok: true }]);
    assert.deepEqual(quorum.calls[0], `grow ${C} all / .*`);
    const away = await request("POST", "/api/queues/quorum/replicas/on/warren@z/grow", {
      strategy: "all",
    });
    assert.equal(away.status, 404);
    const bad = await request("POST", `/api/queues/quorum/replicas/on/${C}/grow`, {
      strategy: "all",
      queue_pattern: "(",
    });
    assert.equal(bad.status, 400);
  });

  test("shrink answers 202 with each queue's outcome", async () => {
    const { request } = setup([healthy("orders")]);
    const r = await request("DELETE", `/api/queues/quorum/replicas/on/${C}/shrink`);
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, [{ vhost: "/", name: "orders", size: 2, result: "ok", ok: true }]);
  });

  test("rebalance answers the outcomes and the leaders per node", async () => {
    const { request } = setup([healthy("q1"), healthy("q2")]);
    const r = await request("POST", "/api/rebalance/queues");
    assert.equal(r.status, 200);
    assert.deepEqual((r.body as Json).summary, [
      { node: B, quorum_leaders: 1 },
      { node: C, quorum_leaders: 0 },
      { node: SELF, quorum_leaders: 1 },
    ]);
  });

  test("without a quorum runtime every queue is classic", async () => {
    const broker = memoryBroker();
    declareQueues(broker, [healthy("plain")]);
    const call = requester(testContext(broker));
    const r = await call("GET", "/api/warren/quorum-status/%2F/plain").catch(
      (e: { toResponse(): HttpResponse }) => e.toResponse(),
    );
    assert.equal(r.status, 400);
    assert.match(String((r.body as Json).reason), /^classic_queue_not_supported/);
  });
});

describe("node-is-quorum-critical", () => {
  test("503 naming each quorum queue that would lose its majority, as RabbitMQ", async () => {
    const { request } = setup([withOffline(healthy("orders"), [C]), healthy("events", B)]);
    const r = await request("GET", "/api/health/checks/node-is-quorum-critical");
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, {
      status: "failed",
      reason:
        "There are quorum queues that would lose their quorum if the target node is shut down",
      queues: [
        {
          readable_name: "queue 'orders' in vhost '/'",
          name: "orders",
          virtual_host: "/",
          type: "quorum",
        },
      ],
    });
  });

  test("a single node is never critical", async () => {
    const { request } = setup([withOffline(healthy("orders"), [C])], false);
    const r = await request("GET", "/api/health/checks/node-is-quorum-critical");
    assert.equal(r.status, 200);
  });
});

describe("/metrics", () => {
  test("per-object: each replica here labelled vhost and queue, beside the metadata group", () => {
    const remote = { ...healthy("elsewhere", B), local: undefined };
    const { ctx } = setup([healthy("orders"), healthy("events", B), remote]);
    const text = metricsText(ctx, true);
    assert.match(text, /^rabbitmq_raft_term_total\{raft_cluster="rabbitmq_metadata"\} 4$/m);
    assert.match(text, /^rabbitmq_raft_term_total\{vhost="\/",queue="orders"\} 3$/m);
    assert.match(text, /^rabbitmq_raft_log_commit_index\{vhost="\/",queue="events"\} 120$/m);
    assert.match(text, /^rabbitmq_raft_log_last_applied_index\{vhost="\/",queue="orders"\} 120$/m);
    assert.match(text, /^rabbitmq_raft_log_last_written_index\{vhost="\/",queue="orders"\} 121$/m);
    assert.match(text, /^rabbitmq_raft_log_snapshot_index\{vhost="\/",queue="orders"\} 100$/m);
    assert.match(
      text,
      /^rabbitmq_raft_entry_commit_latency_seconds\{vhost="\/",queue="orders"\} 0\.002$/m,
    );
    assert.doesNotMatch(text, /^rabbitmq_raft_\w+\{[^}]*queue="elsewhere"/m, "no replica here");
    assert.equal(text.match(/^# TYPE rabbitmq_raft_term_total /gm)?.length, 1);
  });

  test("aggregated: one sample per family, summed over the groups; Warren's quorum gauges", () => {
    const { ctx } = setup([healthy("orders"), withOffline(healthy("events", B), [B, C])]);
    const text = metricsText(ctx, false);
    // The metadata group's 120 and two replicas' 120.
    assert.match(text, /^rabbitmq_raft_log_commit_index 360$/m);
    assert.match(text, /^warren_quorum_queues 2$/m);
    assert.match(text, /^warren_quorum_queues_without_majority 1$/m);
    assert.match(text, /^warren_quorum_queue_replicas 2$/m);
    assert.match(text, /^warren_quorum_queue_leaders 1$/m);
  });

  test("a single node with quorum queues (groups of one) writes their figures too", () => {
    const { ctx } = setup([{ ...healthy("solo"), members: [SELF], online: [SELF] }], false);
    const text = metricsText(ctx, true);
    assert.match(text, /^rabbitmq_raft_term_total\{vhost="\/",queue="solo"\} 3$/m);
    assert.doesNotMatch(text, /rabbitmq_metadata/);
  });
});
