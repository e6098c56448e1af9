/**
 * One test per safety rule of the Raft paper (Ongaro and Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", 2014), run with pre-vote and check-quorum off so the
 * rules are exercised exactly as the paper states them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RaftMessage, VoteResponse } from "../../../src/raft/index.js";
import { TestCluster } from "./test-cluster.js";

const paperRaft = { preVote: false, checkQuorum: false };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

function votesIn(messages: readonly RaftMessage[]): VoteResponse[] {
  return messages.filter((m): m is VoteResponse => m.type === "voteResponse");
}

describe("Raft paper safety rules", () => {
  test("§5.2 election: a server grants at most one vote per term, first come first served", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    const s1 = cluster.machine("s1");
    const request = { type: "vote", term: 1, preVote: false, lastIndex: 0, lastTerm: 0 } as const;
    s1.step({ ...request, from: "s2", to: "s1", transfer: false });
    s1.step({ ...request, from: "s3", to: "s1", transfer: false });
    s1.step({ ...request, from: "s2", to: "s1", transfer: false });
    const answers = votesIn(cluster.processReady("s1", false)!.messages);
    assert.deepEqual(
      answers.map((a) => [a.to, a.granted]),
      [
        ["s2", true],
        ["s3", false],
        ["s2", true],
      ],
    );
    assert.equal(s1.status().votedFor, "s2");
  });

  test("§5.2 election: two candidates in one term cannot both win; one leader emerges", () => {
    const cluster = new TestCluster(ids(5), paperRaft);
    cluster.tickUntilCampaign("s1");
    cluster.tickUntilCampaign("s2");
    assert.equal(cluster.machine("s1").status().term, cluster.machine("s2").status().term);
    cluster.settle();
    const leaders = cluster.leaders();
    assert.ok(leaders.length <= 1, `leaders in term 1: ${leaders}`);
    // A split vote is resolved by the next timeout of one candidate.
    if (leaders.length === 0) cluster.campaign("s1");
    assert.equal(cluster.leaders().length, 1);
    const leader = cluster.machine(cluster.leaders()[0]).status();
    for (const node of cluster.nodes.values()) {
      assert.equal(node.machine.status().leaderId, leader.id);
    }
  });

  test("§5.3 log matching: a follower rejects an append whose previous entry differs", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    cluster.campaign("s1");
    const s2 = cluster.machine("s2");
    const term = s2.status().term;
    const entry = { index: 5, term, kind: "command", data: new Uint8Array() } as const;
    s2.step({
      type: "append",
      from: "s1",
      to: "s2",
      term,
      prevIndex: 4,
      prevTerm: term,
      entries: [entry],
      commitIndex: 0,
    });
    const answer = cluster.processReady("s2", false)!.messages[0];
    assert.equal(answer.type, "appendResponse");
    assert.equal(answer.type === "appendResponse" && answer.success, false);
    assert.equal(s2.status().lastIndex, 1, "nothing appended after a gap");
  });

  test("§5.3 log matching: the leader overwrites a follower's conflicting entries with its own", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    cluster.campaign("s1");
    // s1 accepts proposals it cannot replicate, then loses leadership.
    cluster.isolate("s1");
    cluster.propose("s1", "lost-1");
    cluster.propose("s1", "lost-2");
    cluster.settle();
    cluster.campaign("s2");
    assert.deepEqual(cluster.leaders().sort(), ["s1", "s2"]);
    cluster.propose("s2", "kept");
    cluster.settle();
    cluster.heal();
    cluster.tick("s2", 1);
    cluster.settle();
    assert.deepEqual(cluster.leaders(), ["s2"]);
    for (const id of ids(3)) assert.deepEqual(cluster.logOf(id), ["-", "-", "kept"], id);
    for (const id of ids(3)) assert.deepEqual(cluster.node(id).applied, ["kept"], id);
  });

  test("§5.4.1 election restriction: a voter refuses a candidate whose log is less up to date", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    cluster.campaign("s1");
    cluster.isolate("s3");
    cluster.propose("s1", "committed");
    cluster.settle();
    assert.deepEqual(cluster.node("s2").applied, []);
    cluster.tick("s1", 1);
    cluster.settle();
    assert.deepEqual(cluster.node("s1").applied, ["committed"]);
    cluster.crash("s1");
    cluster.heal();
    // s3 lacks the committed entry: s2 must refuse it, so s3 cannot win.
    cluster.campaign("s3");
    assert.deepEqual(cluster.leaders(), []);
    cluster.campaign("s2");
    assert.deepEqual(cluster.leaders(), ["s2"]);
    cluster.propose("s2", "next");
    cluster.tickAll(2);
    assert.deepEqual(cluster.node("s3").applied, ["committed", "next"]);
  });

  test("§5.4.2 committing entries from previous terms: a leader does not commit an old-term entry by counting replicas", () => {
    // Figure 8 of the paper, with one entry per append so replicas can be steered one by one.
    const cluster = new TestCluster(ids(5), { ...paperRaft, maxAppendBytes: 1 });
    cluster.campaign("s1");
    // (a) s1 (term 1) replicates x to s2 only, then crashes.
    cluster.partition(["s1", "s2"], ["s3", "s4", "s5"]);
    cluster.propose("s1", "x");
    cluster.settle();
    cluster.crash("s1");
    cluster.heal();
    // (b) s5 wins term 2 with s3 and s4, appends entries nobody receives, and crashes.
    cluster.dropIf = (m) => m.from === "s5" && m.type === "append";
    cluster.campaign("s5");
    assert.deepEqual(cluster.leaders(), ["s5"]);
    cluster.propose("s5", "y");
    cluster.settle();
    cluster.crash("s5");
    // (c) s1 restarts and wins term 3; x reaches s3 (a majority holds x) but the new
    // term's first entry reaches only s2.
    cluster.restart("s1");
    // The first probe (which the followers reject for lacking x) passes; once a follower
    // holds x, appends carrying index 3 are lost on the way to s3 and s4.
    const holdsX = (id: string) => cluster.machine(id).termAt(2) === 1;
    cluster.dropIf = (m) =>
      m.type === "append" &&
      (m.to === "s3" || m.to === "s4") &&
      holdsX(m.to) &&
      m.entries.some((e) => e.index === 3);
    cluster.campaign("s1");
    if (cluster.leaders().length === 0) cluster.campaign("s1");
    assert.deepEqual(cluster.leaders(), ["s1"]);
    const s1 = cluster.machine("s1").status();
    assert.equal(cluster.machine("s3").termAt(2), 1, "x is on s1, s2 and s3");
    assert.ok(s1.commitIndex < 2, `x must not be committed in term ${s1.term}`);
    // (d) s1 crashes; s5 can win term 4 and overwrite x, which is fine: x never committed.
    cluster.crash("s1");
    cluster.restart("s5");
    cluster.dropIf = () => false;
    cluster.campaign("s5");
    if (cluster.leaders().length === 0) cluster.campaign("s5");
    assert.deepEqual(cluster.leaders(), ["s5"]);
    cluster.tickAll(3);
    for (const id of ["s2", "s3", "s4", "s5"]) {
      assert.deepEqual(cluster.node(id).applied, ["y"], id);
    }
  });

  test("§5.4.2 committing entries from previous terms: an old-term entry commits once a current-term entry does", () => {
    const cluster = new TestCluster(ids(3), { ...paperRaft, maxAppendBytes: 1 });
    cluster.campaign("s1");
    cluster.isolate("s1");
    cluster.propose("s1", "old");
    cluster.settle();
    cluster.crash("s1");
    cluster.heal();
    cluster.restart("s1");
    // s1 wins term 2; its entry of term 2 (index 3) is held back at first.
    cluster.dropIf = (m) =>
      m.type === "append" &&
      cluster.machine(m.to).termAt(2) === 1 &&
      m.entries.some((e) => e.index === 3);
    cluster.campaign("s1");
    assert.deepEqual(cluster.leaders(), ["s1"]);
    assert.equal(cluster.machine("s2").termAt(2), 1, "a majority holds the term-1 entry");
    assert.equal(cluster.machine("s1").status().commitIndex, 1);
    cluster.dropIf = () => false;
    cluster.tickAll(2);
    assert.equal(cluster.machine("s1").status().commitIndex, 3);
    for (const id of ids(3)) assert.deepEqual(cluster.node(id).applied, ["old"], id);
  });

  test("§5.1 terms: a server rejects a request from a stale term and tells the sender its term", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    cluster.campaign("s1");
    cluster.campaign("s2");
    const s2Term = cluster.machine("s2").status().term;
    const s3 = cluster.machine("s3");
    s3.step({ type: "heartbeat", from: "s1", to: "s3", term: s2Term - 1, commitIndex: 0 });
    const answer = cluster.processReady("s3", false)!.messages[0];
    assert.equal(answer.term, s2Term);
    assert.equal(s3.status().leaderId, "s2");
  });

  test("§7 log compaction: a follower that missed compacted entries catches up by snapshot", () => {
    const cluster = new TestCluster(ids(3), paperRaft);
    cluster.campaign("s1");
    cluster.isolate("s3");
    for (let i = 0; i < 5; i++) cluster.propose("s1", `c${i}`);
    cluster.tickAll(2);
    assert.ok(cluster.compact("s1"));
    cluster.heal();
    cluster.tickAll(3);
    const s3 = cluster.node("s3");
    assert.deepEqual(s3.applied, ["c0", "c1", "c2", "c3", "c4"]);
    assert.ok(s3.machine.status().snapshotIndex >= 6, "installed the leader's snapshot");
    cluster.propose("s1", "after");
    cluster.tickAll(2);
    assert.deepEqual(s3.applied.at(-1), "after");
  });
});
