import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decodeAnswer,
  decodeDeliverFrame,
  decodeProposal,
  encodeAnswer,
  encodeDeliverFrame,
  encodeProposal,
  type ProposeAnswer,
} from "../../../../src/cluster/quorum/quorum-wire.js";

const delivery = (id: number, attempt: number) => ({
  id,
  attempt,
  deliveryCount: attempt - 1,
  redelivered: attempt > 1,
  payload: new Uint8Array(Buffer.from(`body ${id}`)),
});

describe("quorum queue wire", () => {
  test("a delivery frame decodes to what was encoded", () => {
    const frame = {
      groupId: "qq.7",
      consumer: "n1/x/3",
      deliveries: [delivery(12, 1), delivery(40, 3)],
    };
    assert.deepEqual(decodeDeliverFrame(Buffer.from(encodeDeliverFrame(frame))), frame);
  });

  test("a proposal decodes to its group and command", () => {
    const command = new Uint8Array([1, 2, 3, 250]);
    assert.deepEqual(decodeProposal(encodeProposal("qq.9", command)), { groupId: "qq.9", command });
  });

  test("every answer decodes to what was encoded", () => {
    const answers: ProposeAnswer[] = [
      { status: "not-leader", leader: "node2" },
      { status: "not-leader", leader: null },
      { status: "failed", detail: "outcome unknown (stopped)" },
      { status: "applied", reply: { type: "enqueue", accepted: false, duplicate: false } },
      { status: "applied", reply: { type: "enqueue", accepted: true, duplicate: true } },
      { status: "applied", reply: { type: "dequeue", delivery: delivery(5, 2), remaining: 9 } },
      { status: "applied", reply: { type: "dequeue", delivery: undefined, remaining: 0 } },
      { status: "applied", reply: { type: "purge", purged: 1234 } },
      { status: "applied", reply: { type: "done" } },
    ];
    for (const a of answers) assert.deepEqual(decodeAnswer(Buffer.from(encodeAnswer(a))), a);
  });
});
