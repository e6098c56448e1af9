import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeMembership } from "../../../src/raft/membership.js";
import { RaftLog } from "../../../src/raft/raft-log.js";
import type { LogEntry, SnapshotMeta } from "../../../src/raft/types.js";

const base: SnapshotMeta = { index: 0, term: 0, membership: { voters: ["a"], learners: [] } };

function logWithTerms(terms: number[], from = 1, meta: SnapshotMeta = base): RaftLog {
  return new RaftLog(
    meta,
    terms.map((term, i) => ({ index: from + i, term, kind: "command", data: new Uint8Array() })),
  );
}

test("findConflictByTerm returns the last index at or below the probe whose term is not above it", () => {
  const log = logWithTerms([1, 1, 2, 2, 2, 4, 4]);
  assert.equal(log.findConflictByTerm(7, 3), 5);
  assert.equal(log.findConflictByTerm(7, 4), 7);
  assert.equal(log.findConflictByTerm(4, 1), 2);
  assert.equal(log.findConflictByTerm(20, 2), 5, "a probe past the end starts from the end");
  assert.equal(log.findConflictByTerm(7, 0), 0);
});

test("findConflictByTerm agrees with a naive scan for any monotonic log", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 30 }),
      fc.nat(40),
      fc.nat(10),
      (steps, index, term) => {
        const terms: number[] = [];
        let current = 1;
        for (const step of steps) {
          current += step;
          terms.push(current);
        }
        const log = logWithTerms(terms);
        let expected = Math.min(index, terms.length);
        while (expected > 0 && terms[expected - 1] > term) expected--;
        assert.equal(log.findConflictByTerm(index, term), expected);
      },
    ),
  );
});

test("appending over a conflict drops the old suffix and rolls membership back", () => {
  const membershipEntry: LogEntry = {
    index: 3,
    term: 1,
    kind: "membership",
    data: encodeMembership({ voters: ["a", "b"], learners: [] }),
  };
  const log = logWithTerms([1, 1]);
  log.append([membershipEntry]);
  assert.deepEqual(log.membership().voters, ["a", "b"]);
  log.append([{ index: 3, term: 2, kind: "command", data: new Uint8Array() }]);
  assert.deepEqual(log.membership().voters, ["a"]);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.termAt(3), 2);
});

test("an entry is stable only if the write that carried it is still what the log holds", () => {
  const log = logWithTerms([]);
  log.append([{ index: 1, term: 1, kind: "command", data: new Uint8Array() }]);
  assert.equal(log.stableIndex(), 0);
  // Before the write of (1, term 1) completes, a new leader replaces it.
  log.append([{ index: 1, term: 2, kind: "command", data: new Uint8Array() }]);
  log.stableTo(1, 1);
  assert.equal(log.stableIndex(), 0, "the stale write does not make the new entry stable");
  log.stableTo(1, 2);
  assert.equal(log.stableIndex(), 1);
});

test("compaction keeps the entries after the snapshot and the membership in force at it", () => {
  const log = logWithTerms([1, 1, 2, 2]);
  log.stableTo(4, 2);
  log.compact({ index: 2, term: 1, membership: log.membershipAt(2) });
  assert.equal(log.firstIndex(), 3);
  assert.equal(log.termAt(2), 1);
  assert.equal(log.termAt(1), undefined);
  assert.deepEqual(
    log.slice(1, 10).map((e) => e.index),
    [3, 4],
  );
});
