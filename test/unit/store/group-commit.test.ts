import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupCommit } from "../../../src/store/group-commit.js";

test("commits requested while a flush runs share the next flush", async () => {
  let flushes = 0;
  const commit = new GroupCommit(async () => {
    flushes++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  const first = commit.commit();
  const waiting = Array.from({ length: 10 }, () => commit.commit());
  await Promise.all([first, ...waiting]);
  assert.equal(flushes, 2);
});

test("after a failed flush every later commit fails too", async () => {
  const commit = new GroupCommit(async () => {
    throw new Error("EIO");
  });
  await assert.rejects(commit.commit(), /EIO/);
  await assert.rejects(commit.commit(), /EIO/);
});
