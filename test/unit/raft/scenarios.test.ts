/**
 * Named failure scenarios as scripted transcripts, with pre-vote and check-quorum on as in
 * production. Each test states the behaviour it pins down.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RaftMessage } from "../../../src/raft/index.js";
import { TestCluster } from "./test-cluster.js";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

/** A cluster of n voters where s1 leads and has committed "a" everywhere. */
function clusterWithLeader(n: number): TestCluster {
  const cluster = new TestCluster(ids(n));
  cluster.campaign("s1");
  assert.deepEqual(cluster.leaders(), ["s1"]);
  cluster.propose("s1", "a");
  cluster.tickAll(2);
  for (const id of ids(n)) assert.deepEqual(cluster.node(id).applied, ["a"], id);
  return cluster;
}

describe("partitions", () => {
  test("a leader isolated by a partition steps down and the majority elects a new leader without losing committed entries", () => {
    const cluster = clusterWithLeader(5);
    cluster.isolate("s1");
    assert.equal(cluster.propose("s1", "stranded").ok, true);
    // Check-quorum looks once per election timeout: within two, s1 has seen a silent round.
    cluster.tickAll(2 * cluster.electionTicks);
    assert.equal(cluster.machine("s1").status().role, "follower", "check-quorum deposed s1");
    cluster.tickAll(3 * cluster.electionTicks);
    const [leader] = cluster.leaders();
    assert.ok(leader !== undefined && leader !== "s1");
    assert.equal(cluster.propose(leader, "b").ok, true);
    cluster.tickAll(2);
    cluster.heal();
    cluster.tickAll(3);
    for (const id of ids(5)) assert.deepEqual(cluster.node(id).applied, ["a", "b"], id);
    assert.ok(!cluster.logOf("s1").includes("stranded"), "the stranded entry was replaced");
  });

  test("a leader that can send but not receive (asymmetric partition) steps down, and the others elect a leader it cannot disrupt", () => {
    const cluster = clusterWithLeader(3);
    cluster.cutOneWay("s2", "s1");
    cluster.cutOneWay("s3", "s1");
    cluster.tickAll(2 * cluster.electionTicks);
    assert.equal(cluster.machine("s1").status().role, "follower");
    cluster.tickAll(4 * cluster.electionTicks);
    const [leader] = cluster.leaders();
    assert.ok(leader === "s2" || leader === "s3", `leader ${leader}`);
    const termAfterElection = cluster.machine(leader).status().term;
    assert.equal(cluster.propose(leader, "b").ok, true);
    // s1 keeps timing out and asking for pre-votes; the others, hearing their leader, ignore it.
    cluster.tickAll(5 * cluster.electionTicks);
    assert.deepEqual(cluster.leaders(), [leader]);
    assert.equal(cluster.machine(leader).status().term, termAfterElection);
    assert.deepEqual(cluster.node(leader).applied, ["a", "b"]);
    cluster.heal();
    cluster.tickAll(3);
    assert.deepEqual(cluster.node("s1").applied, ["a", "b"]);
  });

  test("a node that can receive but not send neither disrupts nor stops the cluster, and catches up once it can answer", () => {
    const cluster = clusterWithLeader(3);
    const term = cluster.machine("s1").status().term;
    cluster.cutOneWay("s3", "s1");
    cluster.cutOneWay("s3", "s2");
    for (let i = 0; i < 5; i++) cluster.propose("s1", `m${i}`);
    cluster.tickAll(5 * cluster.electionTicks);
    assert.deepEqual(cluster.leaders(), ["s1"]);
    assert.equal(cluster.machine("s1").status().term, term);
    assert.deepEqual(cluster.node("s2").applied, ["a", "m0", "m1", "m2", "m3", "m4"]);
    cluster.heal();
    cluster.tickAll(3);
    assert.deepEqual(cluster.node("s3").applied, ["a", "m0", "m1", "m2", "m3", "m4"]);
  });

  test("a partitioned follower does not inflate its term (pre-vote) and rejoins without deposing the leader", () => {
    const cluster = clusterWithLeader(3);
    const term = cluster.machine("s1").status().term;
    cluster.isolate("s3");
    cluster.tickAll(10 * cluster.electionTicks);
    assert.equal(cluster.machine("s3").status().term, term, "pre-vote kept s3's term");
    cluster.heal();
    cluster.tickAll(3);
    assert.deepEqual(cluster.leaders(), ["s1"]);
    assert.equal(cluster.machine("s1").status().term, term);
  });
});

describe("stale nodes", () => {
  test("a candidate with a stale log cannot win, and the up-to-date node is elected instead", () => {
    const cluster = clusterWithLeader(3);
    cluster.isolate("s3");
    cluster.propose("s1", "b");
    cluster.tickAll(2);
    cluster.crash("s1");
    cluster.heal();
    // s3 times out first: its pre-vote is refused by s2, whose log holds "b".
    cluster.campaign("s3");
    assert.deepEqual(cluster.leaders(), []);
    cluster.tickAll(4 * cluster.electionTicks);
    assert.deepEqual(cluster.leaders(), ["s2"]);
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s3").applied, ["a", "b"]);
  });

  test("an old leader returning with uncommitted entries has them replaced and never applies them", () => {
    const cluster = clusterWithLeader(3);
    cluster.isolate("s1");
    cluster.propose("s1", "u1");
    cluster.propose("s1", "u2");
    cluster.tickAll(4 * cluster.electionTicks);
    const [leader] = cluster.leaders();
    assert.ok(leader === "s2" || leader === "s3");
    cluster.propose(leader, "b");
    cluster.tickAll(2);
    cluster.heal();
    cluster.tickAll(3);
    assert.deepEqual(cluster.leaders(), [leader]);
    for (const id of ids(3)) {
      assert.deepEqual(cluster.node(id).applied, ["a", "b"], id);
      assert.ok(!cluster.logOf(id).includes("u1"), id);
    }
  });
});

describe("crashes", () => {
  test("a follower that crashes after persisting an entry but before acknowledging it still holds it after restart", () => {
    const cluster = clusterWithLeader(3);
    cluster.crash("s3");
    cluster.propose("s1", "b");
    cluster.processReady("s1");
    const appendToS2 = cluster.inFlight.find((m) => m.to === "s2" && m.type === "append");
    assert.ok(appendToS2 !== undefined);
    cluster.inFlight = [];
    cluster.deliver(appendToS2);
    // s2 persists the entry, then dies before its acknowledgement leaves.
    const ready = cluster.processReady("s2", false);
    assert.ok(ready !== null && ready.entries.length === 1 && ready.messages.length === 1);
    cluster.crash("s2");
    cluster.restart("s2");
    assert.deepEqual(cluster.logOf("s2").slice(-1), ["b"]);
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s1").applied, ["a", "b"], "committed once s2 answers again");
    assert.deepEqual(cluster.node("s2").applied, ["a", "b"]);
  });

  test("a voter that crashes after persisting its vote but before sending it does not vote twice in that term", () => {
    const cluster = new TestCluster(ids(3), { preVote: false });
    cluster.tickUntilCampaign("s1");
    cluster.processReady("s1");
    const [requestToS2] = cluster.inFlight.filter((m) => m.to === "s2");
    cluster.inFlight = [];
    cluster.deliver(requestToS2);
    const ready = cluster.processReady("s2", false);
    assert.equal(ready?.hardState?.votedFor, "s1");
    cluster.crash("s2");
    cluster.restart("s2");
    // s3 now asks for s2's vote in the same term: s2 remembers it voted for s1.
    const term = cluster.machine("s1").status().term;
    const s2 = cluster.machine("s2");
    s2.step({
      type: "vote",
      from: "s3",
      to: "s2",
      term,
      preVote: false,
      lastIndex: 0,
      lastTerm: 0,
      transfer: false,
    });
    const answer = cluster.processReady("s2", false)!.messages[0] as RaftMessage;
    assert.equal(answer.type === "voteResponse" && answer.granted, false);
    assert.equal(s2.status().votedFor, "s1");
  });

  test("a leader that crashes after persisting a proposal but before sending it keeps it, and commits it after re-election", () => {
    const cluster = clusterWithLeader(3);
    cluster.propose("s1", "b");
    cluster.processReady("s1", false);
    cluster.crash("s1");
    cluster.restart("s1");
    assert.deepEqual(cluster.logOf("s1").slice(-1), ["b"]);
    // With s2 and s3 unable to elect each other, only s1 (whose log is longer) can win.
    cluster.partition(["s2"], ["s3"]);
    cluster.tickAll(4 * cluster.electionTicks);
    assert.deepEqual(cluster.leaders(), ["s1"]);
    cluster.heal();
    cluster.tickAll(2);
    for (const id of ids(3)) assert.deepEqual(cluster.node(id).applied, ["a", "b"], id);
  });
});

describe("membership", () => {
  test("a learner catches up before promotion, then votes; a removed voter stops counting", () => {
    const cluster = clusterWithLeader(3);
    cluster.addNode("s4");
    assert.equal(
      cluster.machine("s1").proposeMembershipChange({ type: "addLearner", nodeId: "s4" }).ok,
      true,
    );
    cluster.tickAll(3);
    assert.deepEqual(cluster.node("s4").applied, ["a"]);
    assert.equal(cluster.machine("s4").status().role, "follower");
    assert.equal(
      cluster.machine("s1").proposeMembershipChange({ type: "promoteLearner", nodeId: "s4" }).ok,
      true,
    );
    cluster.tickAll(3);
    assert.deepEqual(cluster.machine("s1").status().membership.voters, ["s1", "s2", "s3", "s4"]);
    assert.equal(
      cluster.machine("s1").proposeMembershipChange({ type: "removeNode", nodeId: "s2" }).ok,
      true,
    );
    cluster.tickAll(3);
    cluster.crash("s2");
    // Voters are now s1, s3, s4: losing s3 leaves no majority, losing s2 changed nothing.
    cluster.propose("s1", "b");
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s4").applied, ["a", "b"]);
  });

  test("a membership change during a partition commits on the majority side and reaches the minority when it heals", () => {
    const cluster = clusterWithLeader(5);
    cluster.addNode("s6");
    cluster.partition(["s1", "s2", "s3", "s6"], ["s4", "s5"]);
    const s1 = cluster.machine("s1");
    assert.equal(s1.proposeMembershipChange({ type: "addLearner", nodeId: "s6" }).ok, true);
    cluster.tickAll(3);
    assert.equal(s1.proposeMembershipChange({ type: "promoteLearner", nodeId: "s6" }).ok, true);
    cluster.tickAll(3);
    assert.equal(s1.proposeMembershipChange({ type: "removeNode", nodeId: "s5" }).ok, true);
    cluster.tickAll(3);
    // Voters s1, s2, s3, s4, s6: the majority side has four of five.
    cluster.propose("s1", "b");
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s6").applied, ["a", "b"]);
    assert.deepEqual(cluster.machine("s4").status().membership.voters, [
      "s1",
      "s2",
      "s3",
      "s4",
      "s5",
    ]);
    cluster.heal();
    cluster.tickAll(5);
    assert.deepEqual(cluster.machine("s4").status().membership.voters, [
      "s1",
      "s2",
      "s3",
      "s4",
      "s6",
    ]);
    assert.deepEqual(cluster.node("s4").applied, ["a", "b"]);
    // s5 was removed: it hears nothing more, and its campaigns cannot disrupt the leader.
    const term = s1.status().term;
    cluster.tickAll(6 * cluster.electionTicks);
    assert.deepEqual(cluster.leaders(), ["s1"]);
    assert.equal(s1.status().term, term);
  });

  test("an uncommitted membership change of a partitioned leader is rolled back when its entry is replaced", () => {
    const cluster = clusterWithLeader(3);
    cluster.isolate("s1");
    assert.equal(
      cluster.machine("s1").proposeMembershipChange({ type: "removeNode", nodeId: "s3" }).ok,
      true,
    );
    assert.deepEqual(cluster.machine("s1").status().membership.voters, ["s1", "s2"]);
    cluster.tickAll(4 * cluster.electionTicks);
    cluster.heal();
    cluster.tickAll(3);
    assert.deepEqual(cluster.machine("s1").status().membership.voters, ["s1", "s2", "s3"]);
  });

  test("a leader refuses a second membership change while the first is uncommitted", () => {
    const cluster = clusterWithLeader(3);
    cluster.addNode("s4");
    cluster.addNode("s5");
    const s1 = cluster.machine("s1");
    assert.equal(s1.proposeMembershipChange({ type: "addLearner", nodeId: "s4" }).ok, true);
    const second = s1.proposeMembershipChange({ type: "addLearner", nodeId: "s5" });
    assert.equal(second.ok === false && second.reason, "membershipChangePending");
  });

  test("a leader that removes itself keeps leading until the change commits, then steps down", () => {
    const cluster = clusterWithLeader(3);
    assert.equal(
      cluster.machine("s1").proposeMembershipChange({ type: "removeNode", nodeId: "s1" }).ok,
      true,
    );
    cluster.tickAll(2);
    assert.equal(cluster.machine("s1").status().role, "follower");
    cluster.tickAll(4 * cluster.electionTicks);
    const [leader] = cluster.leaders();
    assert.ok(leader === "s2" || leader === "s3");
    cluster.propose(leader, "b");
    cluster.tickAll(2);
    assert.deepEqual(cluster.node(leader === "s2" ? "s3" : "s2").applied, ["a", "b"]);
  });
});

describe("leadership transfer", () => {
  test("a leader hands over to an up-to-date voter, refusing proposals meanwhile", () => {
    const cluster = clusterWithLeader(3);
    const term = cluster.machine("s1").status().term;
    assert.equal(cluster.machine("s1").transferLeadership("s3").ok, true);
    const refused = cluster.propose("s1", "during");
    assert.equal(refused.ok === false && refused.reason, "transferring");
    cluster.settle();
    assert.deepEqual(cluster.leaders(), ["s3"]);
    assert.equal(cluster.machine("s3").status().term, term + 1);
    cluster.propose("s3", "b");
    cluster.tickAll(2);
    for (const id of ids(3)) assert.deepEqual(cluster.node(id).applied, ["a", "b"], id);
  });

  test("a transfer to a lagging voter first brings it up to date", () => {
    const cluster = clusterWithLeader(3);
    cluster.isolate("s3");
    cluster.propose("s1", "b");
    cluster.tickAll(2);
    cluster.heal();
    assert.equal(cluster.machine("s1").transferLeadership("s3").ok, true);
    // s3's progress is paused on a lost probe: the next heartbeat answer resumes it.
    cluster.tickAll(2);
    assert.deepEqual(cluster.leaders(), ["s3"]);
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s3").applied, ["a", "b"]);
  });
});
