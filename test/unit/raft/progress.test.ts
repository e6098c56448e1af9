import assert from "node:assert/strict";
import { test } from "node:test";
import { Progress } from "../../../src/raft/progress.js";

test("a probing follower gets one append per round trip; an acknowledgement starts pipelining", () => {
  const progress = new Progress("b", 11, 3, 1024);
  progress.sentAppend(10, 0, 0);
  assert.equal(progress.isPaused(), true);
  assert.equal(progress.acknowledge(10), true);
  progress.becomeReplicate();
  for (const last of [12, 14, 16]) progress.sentAppend(last, 10, 2);
  assert.equal(progress.nextIndex, 17);
  assert.equal(progress.isPaused(), true, "window of 3 appends is full");
  progress.acknowledge(14);
  assert.equal(progress.inflights.count(), 1);
  assert.equal(progress.isPaused(), false);
});

test("a rejection moves nextIndex back to the hint but never below matchIndex + 1; stale ones are ignored", () => {
  const progress = new Progress("b", 21, 8, 1024);
  progress.matchIndex = 5;
  progress.becomeReplicate();
  progress.sentAppend(20, 10, 15);
  assert.equal(progress.rejected(4, 0), false, "below what was acknowledged: stale");
  assert.equal(progress.rejected(12, 8), true);
  assert.equal(progress.state, "probe");
  assert.equal(progress.nextIndex, 9);
  assert.equal(progress.rejected(15, 3), false, "not the probe in flight: stale");
  assert.equal(progress.rejected(8, 1), true);
  assert.equal(progress.nextIndex, 6);
});

test("the in-flight window also closes on bytes", () => {
  const progress = new Progress("b", 1, 100, 50);
  progress.becomeReplicate();
  progress.sentAppend(1, 30, 1);
  assert.equal(progress.isPaused(), false);
  progress.sentAppend(2, 30, 1);
  assert.equal(progress.isPaused(), true);
});
