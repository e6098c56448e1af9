import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AmqpConnection } from "../../../src/connection/amqp-connection.js";
import {
  LAGGING_MEMBER_ENTRIES,
  quorumLeadersPiled,
  quorumMemberLagging,
  quorumWithoutMajority,
} from "../../../src/doctor/checks/quorum-checks.js";
import { allChecks, runDoctor } from "../../../src/doctor/doctor.js";
import type { DoctorInput } from "../../../src/doctor/finding.js";
import { History } from "../../../src/doctor/history.js";
import type { QuorumQueueStatus } from "../../../src/quorum/quorum-admin.js";
import { allUp, NOW_MS, SELF, source } from "../../support/fake-cluster.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";
import { B, C, FakeQuorumAdmin, healthy, withOffline } from "../mgmt/fake-quorum-admin.js";

// The quorum queues' doctor checks over a fake QuorumAdmin's statuses: a queue without its
// majority, a member far behind its leader, leaders piled on one node; each names what it saw
// and says what to do, and a healthy set finds nothing.

function input(quorum: QuorumQueueStatus[]): DoctorInput {
  const broker = memoryBroker();
  return {
    nowMs: NOW_MS,
    broker,
    connections: [...broker.connections] as AmqpConnection[],
    history: new History(),
    fds: { used: 40, limit: 1024, socketsUsed: 0, socketsLimit: 831 },
    alarms: [],
    eventLoopDelay: { meanMs: 1, p50Ms: 1, p99Ms: 5, maxMs: 8 },
    windowMs: 600_000,
    cluster: allUp(),
    quorum,
  };
}

/** A queue led here whose member `node` holds the log only up to `matchIndex`. */
function lagging(name: string, node: string, matchIndex: number): QuorumQueueStatus {
  const q = healthy(name);
  return {
    ...q,
    local: { ...q.local!, commitIndex: 50_000 },
    memberDetails: q.memberDetails.map((m) => ({
      ...m,
      matchIndex: m.node === node ? matchIndex : 50_000,
    })),
  };
}

describe("quorum checks, all healthy", () => {
  test("find nothing, and run after the cluster's checks when the node runs quorum queues", () => {
    const report = runDoctor(
      input([healthy("orders"), healthy("events", B), healthy("audit", C)]),
      allChecks(undefined, true, true),
    );
    assert.deepEqual(report.findings, []);
    const ids = report.checks.map((c) => c.id);
    assert.ok(ids.indexOf("quorum-queue-without-majority") > ids.indexOf("skew"));
    assert.ok(ids.includes("quorum-member-lagging") && ids.includes("quorum-leaders-piled"));
    assert.ok(!allChecks(undefined, true).some((c) => c.id.startsWith("quorum")));
  });
});

describe("quorum-queue-without-majority", () => {
  test("critical, names the queue and its missing members, says what to do", () => {
    const [f, ...rest] = quorumWithoutMajority.run(
      input([withOffline(healthy("orders"), [B, C]), withOffline(healthy("events"), [C])]),
    );
    assert.equal(rest.length, 0, "a queue that keeps its majority is not this check's");
    assert.equal(f!.severity, "critical");
    assert.equal(
      f!.title,
      `quorum queue 'orders' in vhost '/' has no majority: 2 members of 3 offline (${B}, ${C})`,
    );
    assert.deepEqual(f!.evidence, [
      `'orders' in vhost '/': members ${SELF}, ${B}, ${C}; online ${SELF}; leader none`,
    ]);
    assert.match(f!.remedy, new RegExp(`^Start ${B}, ${C} again`));
    assert.match(f!.remedy, /resume by themselves/);
  });

  test("queues that lost the same members are one finding, the evidence capped", () => {
    const queues = Array.from({ length: 12 }, (_, i) => withOffline(healthy(`q${i}`), [B, C]));
    const findings = quorumWithoutMajority.run(input(queues));
    assert.equal(findings.length, 1);
    assert.equal(
      findings[0]!.title,
      `12 quorum queues have no majority: their members on ${B}, ${C} are offline`,
    );
    assert.equal(findings[0]!.evidence.length, 11);
    assert.equal(findings[0]!.evidence[10], "and 2 more");
  });
});

describe("quorum-member-lagging", () => {
  test("a member far behind the commit index on a queue led here, grouped by member", () => {
    const findings = quorumMemberLagging.run(
      input([lagging("orders", C, 1000), lagging("events", C, 2000), lagging("fine", B, 49_000)]),
    );
    assert.equal(findings.length, 1);
    const f = findings[0]!;
    assert.equal(f.severity, "warning");
    assert.equal(f.title, `${C} lags far behind on 2 quorum queues this node leads`);
    assert.deepEqual(f.evidence, [
      `'orders' in vhost '/': commit index 50000, ${C} holds up to 1000 (49000 entries behind)`,
      `'events' in vhost '/': commit index 50000, ${C} holds up to 2000 (48000 entries behind)`,
    ]);
    assert.match(f.remedy, /fsync/);
  });

  test("within the threshold, offline, or not led here: nothing", () => {
    const near = lagging("near", C, 50_000 - LAGGING_MEMBER_ENTRIES);
    const offline = withOffline(lagging("away", C, 10), [C]);
    const follower = { ...lagging("theirs", C, 10), local: { ...healthy("x", B).local! } };
    assert.deepEqual(quorumMemberLagging.run(input([near, offline, follower])), []);
  });
});

describe("quorum-leaders-piled", () => {
  test("more than two thirds of the leaders on one node of three: rebalance", () => {
    const queues = [
      ...Array.from({ length: 8 }, (_, i) => healthy(`here${i}`)),
      healthy("b1", B),
      healthy("c1", C),
    ];
    const [f] = quorumLeadersPiled.run(input(queues));
    assert.equal(f!.severity, "warning");
    assert.equal(f!.title, `${SELF} leads 8 of 10 quorum queues (80%) in a cluster of 3 nodes`);
    assert.deepEqual(f!.evidence, [`${B}: 1 leader`, `${C}: 1 leader`, `${SELF}: 8 leaders`]);
    assert.match(f!.remedy, /warrenctl rebalance quorum/);
  });

  test("spread leaders, too few queues, or a cluster of two: nothing", () => {
    const spread = [healthy("a"), healthy("b", B), healthy("c", C), healthy("d")];
    assert.deepEqual(quorumLeadersPiled.run(input(spread)), []);
    assert.deepEqual(quorumLeadersPiled.run(input([healthy("a"), healthy("b")])), []);
    const two = (name: string) => ({ ...healthy(name), members: [SELF, B], online: [SELF, B] });
    const pair = { ...input([two("a"), two("b"), two("c")]), cluster: undefined };
    assert.deepEqual(quorumLeadersPiled.run(pair), []);
  });
});

describe("through the management API", () => {
  test("/api/warren/doctor runs the quorum checks over the node's QuorumAdmin", async () => {
    const broker = memoryBroker();
    const quorum = new FakeQuorumAdmin([withOffline(healthy("orders"), [B, C])]);
    const ctx = { ...testContext(broker), cluster: source(allUp()), quorum };
    const r = await requester(ctx)("GET", "/api/warren/doctor");
    const report = r.body as { findings: { check: string; severity: string }[] };
    assert.deepEqual(
      report.findings.filter((f) => f.check.startsWith("quorum")).map((f) => [f.check, f.severity]),
      [["quorum-queue-without-majority", "critical"]],
    );
  });
});
