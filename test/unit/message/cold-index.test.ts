import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ColdIndex, type ColdRecord } from "../../../src/message/cold-index.js";

const record = (msgId: number): ColdRecord => ({
  msgId,
  segment: 1 + (msgId % 7),
  offset: msgId * 10,
  length: 10,
  bodyBytes: msgId % 13,
  deliveryCount: 0,
  expiresAtMs: Number.POSITIVE_INFINITY,
  persistent: false,
  arrivedAtMs: msgId,
  priority: 0,
});

test("first(n) shows the head without removing it, and drop(n) removes exactly that, across chunks", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9000 })), {
        maxLength: 40,
      }),
      (ops) => {
        const index = new ColdIndex();
        const model: number[] = [];
        let next = 1;
        for (const [op, n] of ops) {
          if (op === 0) {
            for (let i = 0; i < n; i++) {
              index.push(record(next));
              model.push(next++);
            }
          } else if (op === 1) {
            assert.deepEqual(
              index.first(n).map((r) => r.msgId),
              model.slice(0, n),
            );
          } else {
            const k = Math.min(n, 300);
            index.drop(k);
            model.splice(0, k);
          }
          assert.equal(index.length, model.length);
          assert.equal(
            index.bytes,
            model.reduce((sum, id) => sum + (id % 13), 0),
          );
          assert.equal(index.peek()?.msgId, model[0]);
        }
      },
    ),
    { numRuns: 200 },
  );
});
