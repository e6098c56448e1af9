import assert from "node:assert/strict";
import { test } from "node:test";
import { isQuorumCritical } from "../../../src/mgmt/cluster-view.js";
import { type ClusterStatusLike, clusterViewOf } from "../../../src/runtime/cluster-view-of.js";

function status(over: Partial<ClusterStatusLike> = {}): ClusterStatusLike {
  const member = (name: string, port: number, up: boolean, self = false) => ({
    name,
    host: "127.0.0.1",
    port,
    self,
    connectedSinceMs: self || up ? 1000 : null,
    unreachableSinceMs: up || self ? null : 5000,
    bytesSent: self ? 0 : 10,
    bytesReceived: self ? 0 : 20,
  });
  return {
    nodeName: "warren@a",
    members: [
      member("warren@a", 25672, true, true),
      member("warren@b", 25673, true),
      member("warren@c", 25674, false),
    ],
    metadata: {
      role: "follower",
      term: 3,
      leader: "warren@b",
      voters: ["warren@a", "warren@b", "warren@c"],
      commitIndex: 40,
      appliedIndex: 40,
      snapshotIndex: 0,
      lastIndex: 41,
    },
    pausedReason: undefined,
    pausedSinceMs: undefined,
    ...over,
  };
}

test("the runtime's status becomes the operator's view: members, links, the metadata group", () => {
  const view = clusterViewOf(status());
  assert.equal(view.thisNode, "warren@a");
  assert.deepEqual(
    view.members.map((m) => [m.name, m.clusterAddress, m.reachable]),
    [
      ["warren@a", "127.0.0.1:25672", true],
      ["warren@b", "127.0.0.1:25673", true],
      ["warren@c", "127.0.0.1:25674", false],
    ],
  );
  assert.equal(view.members[2]!.unreachableSinceMs, 5000);
  assert.equal(view.members[1]!.bytesReceived, 20);
  assert.equal(view.metadata.leader, "warren@b");
  assert.deepEqual(view.partitions, [], "a peer that is merely unreachable is no partition");
  assert.equal(view.paused, undefined);
  // Two of three reachable: stopping this node would lose the majority.
  assert.equal(isQuorumCritical(view), true);
});

test("a paused node reports itself partitioned from the members it cannot reach, and why it paused", () => {
  const view = clusterViewOf(
    status({
      pausedReason: "node warren@a cannot see a majority of the cluster",
      pausedSinceMs: 9000,
      metadata: { ...status().metadata, leader: null, role: "preCandidate" },
      members: status().members.map((m) =>
        m.self ? m : { ...m, connectedSinceMs: null, unreachableSinceMs: 8000 },
      ),
    }),
  );
  assert.deepEqual(view.partitions, [{ node: "warren@a", cannotSee: ["warren@b", "warren@c"] }]);
  assert.deepEqual(view.paused, {
    reason: "node warren@a cannot see a majority of the cluster",
    sinceMs: 9000,
  });
  assert.equal(view.metadata.leader, undefined);
});
