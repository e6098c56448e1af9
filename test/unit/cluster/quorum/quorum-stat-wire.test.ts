import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decodeStatAnswer,
  decodeStatRequest,
  encodeStatAnswer,
  encodeStatRequest,
  type StatAnswer,
} from "../../../../src/cluster/quorum/quorum-wire.js";

describe("quorum queue stat request (a declare-ok's counts from the leader)", () => {
  test("a stat request decodes to its group", () => {
    assert.equal(decodeStatRequest(encodeStatRequest("qq.42")), "qq.42");
  });

  test("every stat answer decodes to what was encoded", () => {
    const answers: StatAnswer[] = [
      { status: "counts", messageCount: 0, consumerCount: 0 },
      { status: "counts", messageCount: 1_000_000, consumerCount: 3 },
      { status: "not-leader", leader: "node2@127.0.0.1" },
      { status: "not-leader", leader: null },
    ];
    for (const a of answers) assert.deepEqual(decodeStatAnswer(encodeStatAnswer(a)), a);
  });

  test("a truncated answer is refused, not misread", () => {
    const bytes = encodeStatAnswer({ status: "counts", messageCount: 7, consumerCount: 1 });
    assert.throws(() => decodeStatAnswer(bytes.subarray(0, bytes.length - 1)));
  });
});
