/** How a leader answers requests it must refuse or give up on. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TestCluster } from "./test-cluster.js";

function leaderCluster(n = 3): TestCluster {
  const cluster = new TestCluster(Array.from({ length: n }, (_, i) => `s${i + 1}`));
  cluster.campaign("s1");
  cluster.tickAll(1);
  return cluster;
}

test("proposals beyond the uncommitted-entry limit are refused (backpressure)", () => {
  const cluster = leaderCluster();
  cluster.isolate("s1");
  const limit = 65_536;
  let refused = null;
  for (let i = 0; i <= limit && refused === null; i++) {
    const result = cluster.propose("s1", `m${i}`);
    if (!result.ok) refused = result.reason;
  }
  assert.equal(refused, "tooManyUncommitted");
});

test("a follower answers a proposal with notLeader and the leader's id", () => {
  const cluster = leaderCluster();
  const result = cluster.propose("s2", "x");
  assert.equal(result.ok, false);
  assert.deepEqual(result.ok ? null : [result.reason, result.leaderId], ["notLeader", "s1"]);
});

test("a new leader refuses a membership change until it has committed an entry of its own term", () => {
  const cluster = new TestCluster(["s1", "s2", "s3"]);
  cluster.tickUntilCampaign("s1");
  // Deliver the pre-votes and votes, but not the leader's first append.
  cluster.dropIf = (m) => m.type === "append";
  cluster.settle();
  assert.deepEqual(cluster.leaders(), ["s1"]);
  const early = cluster.machine("s1").proposeMembershipChange({ type: "removeNode", nodeId: "s3" });
  assert.equal(early.ok === false && early.reason, "leaderNotReady");
  cluster.dropIf = () => false;
  cluster.tickAll(2);
  const later = cluster.machine("s1").proposeMembershipChange({ type: "removeNode", nodeId: "s3" });
  assert.equal(later.ok, true);
});

test("a learner that has not caught up is not promoted", () => {
  const cluster = leaderCluster();
  cluster.addNode("s4");
  cluster.isolate("s4");
  assert.equal(
    cluster.machine("s1").proposeMembershipChange({ type: "addLearner", nodeId: "s4" }).ok,
    true,
  );
  cluster.tickAll(2);
  const result = cluster
    .machine("s1")
    .proposeMembershipChange({ type: "promoteLearner", nodeId: "s4" });
  assert.equal(result.ok === false && result.reason, "learnerNotCaughtUp");
  cluster.heal();
  cluster.tickAll(3);
  assert.equal(
    cluster.machine("s1").proposeMembershipChange({ type: "promoteLearner", nodeId: "s4" }).ok,
    true,
  );
});

test("a transfer to an unreachable voter is abandoned after an election timeout and proposals resume", () => {
  const cluster = leaderCluster();
  cluster.isolate("s3");
  cluster.propose("s1", "b");
  cluster.tickAll(1);
  assert.equal(cluster.machine("s1").transferLeadership("s3").ok, true);
  assert.equal(cluster.propose("s1", "during").ok, false);
  cluster.tickAll(cluster.electionTicks);
  assert.deepEqual(cluster.leaders(), ["s1"]);
  assert.equal(cluster.machine("s1").status().transferee, null);
  assert.equal(cluster.propose("s1", "after").ok, true);
});

test("a snapshot lost on the way is sent again after an election timeout", () => {
  const cluster = leaderCluster();
  cluster.isolate("s3");
  for (let i = 0; i < 4; i++) cluster.propose("s1", `c${i}`);
  cluster.tickAll(2);
  assert.ok(cluster.compact("s1"));
  cluster.heal();
  let snapshotsSent = 0;
  cluster.dropIf = (m) => {
    if (m.type !== "snapshot") return false;
    snapshotsSent++;
    return snapshotsSent === 1;
  };
  cluster.tickAll(2 * cluster.electionTicks);
  assert.equal(snapshotsSent, 2);
  assert.deepEqual(cluster.node("s3").applied, ["c0", "c1", "c2", "c3"]);
});

test("a restarted node re-applies its committed entries from its own disk before hearing from a leader", () => {
  const cluster = leaderCluster();
  cluster.propose("s1", "a");
  cluster.propose("s1", "b");
  cluster.tickAll(2);
  cluster.crash("s2");
  cluster.isolate("s2");
  cluster.restart("s2");
  cluster.settle();
  assert.deepEqual(cluster.node("s2").applied, ["a", "b"]);
});
