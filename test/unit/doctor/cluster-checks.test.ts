import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AmqpConnection } from "../../../src/connection/amqp-connection.js";
import {
  CLOCK_SKEW_WARNING_MS,
  clusterSkew,
  minorityPause,
  partitionsSeen,
  queuesHomedOnDownNodes,
  unreachablePeersCheck,
} from "../../../src/doctor/checks/cluster-checks.js";
import { allChecks, runDoctor } from "../../../src/doctor/doctor.js";
import type { DoctorInput } from "../../../src/doctor/finding.js";
import { History } from "../../../src/doctor/history.js";
import { reportText } from "../../../src/doctor/report-text.js";
import type { ClusterView } from "../../../src/mgmt/cluster-view.js";
import type { Broker } from "../../../src/vhost/broker.js";
import { allUp, NOW_MS, oneUnreachable, paused, SELF } from "../../support/fake-cluster.js";
import { memoryBroker } from "../../support/mgmt-context.js";

// The seeds' cluster signatures over a fake ClusterView: what each check finds in the three
// states (all up, one unreachable, this node paused), and that each says what to do.

function input(broker: Broker, cluster?: ClusterView): DoctorInput {
  return {
    nowMs: NOW_MS,
    broker,
    connections: [...broker.connections] as AmqpConnection[],
    history: new History(),
    fds: { used: 40, limit: 1024, socketsUsed: 0, socketsLimit: 831 },
    alarms: [],
    eventLoopDelay: { meanMs: 1, p50Ms: 1, p99Ms: 5, maxMs: 8 },
    windowMs: 600_000,
    ...(cluster ? { cluster } : {}),
  };
}

/** Declares durable queues and marks their home as the metadata group would (QueueMeta.home). */
function durableQueuesHomedOn(broker: Broker, home: string, names: string[]): void {
  for (const queue of names) {
    const { result } = broker.submitNow({
      type: "queue.declare",
      vhost: "/",
      queue,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    (result.queue as { home?: string }).home = home;
  }
}

describe("cluster checks, all three nodes up", () => {
  test("find nothing", () => {
    const report = runDoctor(input(memoryBroker(), allUp()), allChecks(undefined, true));
    assert.deepEqual(report.findings, []);
    assert.equal(report.status, "ok");
    assert.deepEqual(report.checks.map((c) => c.id).slice(1, 6), [
      "minority",
      "partitions",
      "peers",
      "queue-homes",
      "skew",
    ]);
  });
});

describe("cluster checks, one member unreachable", () => {
  test("a partition known to the runtime is one critical finding, naming the pair and since when", () => {
    const found = partitionsSeen.run(input(memoryBroker(), oneUnreachable()));
    assert.equal(found.length, 1);
    assert.equal(found[0]!.severity, "critical");
    assert.match(found[0]!.title, /warren@localhost cannot communicate with warren@c/);
    assert.match(
      found[0]!.evidence[0]!,
      /warren@c \(127\.0\.0\.1:25674\): unreachable for 5 min \(since 2026-12-07T11:55:00\.000Z\)/,
    );
    assert.match(found[0]!.remedy, /cluster port/);
    // Not reported twice as an unreachable peer.
    assert.deepEqual(unreachablePeersCheck.run(input(memoryBroker(), oneUnreachable())), []);
  });

  test("a peer away with no partition known is a warning: most likely down, start it", () => {
    const view = { ...oneUnreachable(), partitions: [] };
    const [f, more] = unreachablePeersCheck.run(input(memoryBroker(), view));
    assert.equal(more, undefined);
    assert.equal(f!.severity, "warning");
    assert.equal(f!.title, "cluster member warren@c is unreachable");
    assert.match(f!.evidence[1]!, /2 members of 3 reachable/);
    assert.match(f!.remedy, /start it/);
    assert.match(f!.remedy, /check_if_node_is_quorum_critical/);
  });

  test("durable queues homed on the unreachable node are named, with what the clients see", () => {
    const broker = memoryBroker();
    durableQueuesHomedOn(broker, "warren@c", ["orders", "invoices"]);
    durableQueuesHomedOn(broker, "warren@b", ["elsewhere"]);
    const [f, more] = queuesHomedOnDownNodes.run(input(broker, oneUnreachable()));
    assert.equal(more, undefined);
    assert.equal(f!.severity, "critical");
    assert.equal(
      f!.title,
      "2 durable queues homed on warren@c are unavailable while it is unreachable",
    );
    assert.deepEqual(f!.evidence.slice(1), ["'orders' in vhost '/'", "'invoices' in vhost '/'"]);
    assert.match(f!.remedy, /Bring warren@c back/);
    // The same queues with every node up: nothing to say.
    assert.deepEqual(queuesHomedOnDownNodes.run(input(broker, allUp())), []);
  });
});

describe("cluster checks, this node paused", () => {
  test("the minority finding says why, since when, who is away, and not to restart", () => {
    const [f] = minorityPause.run(input(memoryBroker(), paused()));
    assert.equal(f!.severity, "critical");
    assert.equal(
      f!.title,
      "this node is in the minority and paused: node warren@localhost cannot see a majority of the cluster",
    );
    assert.match(f!.evidence[0]!, /paused for 55 s .*320 CONNECTION_FORCED/);
    assert.match(f!.evidence[1]!, /^warren@b \(127\.0\.0\.1:25673\): unreachable for 60 s/);
    assert.match(f!.evidence[3]!, /leader unknown/);
    assert.match(f!.remedy, /resumes by itself/);
    // The partition is told once, as the minority.
    assert.deepEqual(partitionsSeen.run(input(memoryBroker(), paused())), []);
    const report = runDoctor(input(memoryBroker(), paused()), allChecks(undefined, true));
    assert.equal(report.status, "critical");
    assert.match(reportText(report), /CRITICAL {2}\[minority\]/);
  });
});

describe("skew between members", () => {
  test("different versions and a clock beyond the limit are warnings with a remedy", () => {
    const v = allUp();
    const view: ClusterView = {
      ...v,
      members: v.members.map((m) =>
        m.name === "warren@b"
          ? { ...m, version: "0.2.0", clockOffsetMs: -(CLOCK_SKEW_WARNING_MS + 1500) }
          : m,
      ),
    };
    const [versions, clocks] = clusterSkew.run(input(memoryBroker(), view));
    assert.equal(versions!.title, "members run 2 different Warren versions");
    assert.deepEqual(versions!.evidence, [`0.1.0: ${SELF}, warren@c`, "0.2.0: warren@b"]);
    assert.match(clocks!.evidence[0]!, /^warren@b: behind by 3\.5 s$/);
    assert.match(clocks!.remedy, /NTP/);
    assert.deepEqual(clusterSkew.run(input(memoryBroker(), allUp())), []);
  });
});

describe("a single node", () => {
  test("keeps its one partitions placeholder and none of the cluster checks", () => {
    const ids = allChecks().map((c) => c.id);
    assert.ok(ids.includes("partitions"));
    for (const id of ["minority", "peers", "queue-homes", "skew"]) assert.ok(!ids.includes(id));
    const report = runDoctor(input(memoryBroker()), allChecks());
    assert.equal(
      report.checks.find((c) => c.id === "partitions")!.description,
      "network partitions and minority state (single node: nothing to check)",
    );
  });
});
