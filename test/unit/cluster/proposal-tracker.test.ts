import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProposalOutcome } from "../../../src/cluster/index.js";
import type { Settlement } from "../../../src/cluster/proposal-tracker.js";
import { ProposalTracker } from "../../../src/cluster/proposal-tracker.js";
import type { LogEntry } from "../../../src/raft/index.js";

function entry(index: number, term: number): LogEntry {
  return { index, term, kind: "command", data: new Uint8Array(0) };
}

function track(tracker: ProposalTracker, index: number, term: number, seen: string[]): void {
  tracker.add(index, term, (outcome: ProposalOutcome) => {
    seen.push(`${index}@${term} ${outcome.status}`);
  });
}

function notify(settled: Settlement[]): void {
  for (const { onOutcome, outcome } of settled) onOutcome(outcome);
}

test("a proposal applied at its index with its term is applied, with another term lost", () => {
  const tracker = new ProposalTracker();
  const seen: string[] = [];
  track(tracker, 5, 2, seen);
  track(tracker, 6, 2, seen);
  const settled: Settlement[] = [];
  tracker.applied(entry(5, 2), "r5", settled);
  tracker.applied(entry(6, 3), "r6", settled);
  assert.deepEqual(
    settled.map((s) => s.outcome),
    [
      { status: "applied", index: 5, term: 2, result: "r5" },
      { status: "lost", reason: "lostLeadership", index: 6, term: 2 },
    ],
  );
  notify(settled);
  assert.deepEqual(seen, ["5@2 applied", "6@2 lost"]);
  assert.equal(tracker.size, 0);
});

test("two proposals at one index from two terms of this node: only the applied term wins", () => {
  const tracker = new ProposalTracker();
  const seen: string[] = [];
  track(tracker, 7, 2, seen);
  track(tracker, 7, 4, seen);
  const settled: Settlement[] = [];
  tracker.applied(entry(7, 4), null, settled);
  notify(settled);
  assert.deepEqual(seen, ["7@2 lost", "7@4 applied"]);
});

test("an installed snapshot makes the proposals it covers unknown and leaves later ones waiting", () => {
  const tracker = new ProposalTracker();
  const seen: string[] = [];
  for (const index of [3, 4, 9]) track(tracker, index, 1, seen);
  const settled: Settlement[] = [];
  tracker.snapshotInstalled(4, settled);
  notify(settled);
  assert.deepEqual(seen, ["3@1 unknown", "4@1 unknown"]);
  assert.equal(tracker.size, 1);
  const rest: Settlement[] = [];
  tracker.abandon("stopped", rest);
  assert.deepEqual(
    rest.map((s) => s.outcome),
    [{ status: "unknown", reason: "stopped", index: 9, term: 1 }],
  );
  assert.equal(tracker.size, 0);
});
