import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Message, QueueEntry } from "../../../src/message/message.js";
import { ReadyList } from "../../../src/queue/ready-list.js";

const message = { body: Buffer.alloc(3) } as Message;
const entry = (seq: number): QueueEntry => ({
  seq,
  message,
  deliveryCount: 0,
  redelivered: false,
  expiresAtMs: Number.POSITIVE_INFINITY,
  ref: undefined,
});

test("requeued entries come back in their original positions, before later ones", () => {
  // Commands: 0 = publish a new entry, 1 = take the head, 2 = requeue one taken entry.
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat()), { maxLength: 200 }),
      (ops) => {
        const list = new ReadyList();
        const model: number[] = []; // sorted sequence numbers of ready entries
        const taken: QueueEntry[] = [];
        let seq = 1;
        for (const [op, pick] of ops) {
          if (op === 0) {
            list.push(entry(seq));
            model.push(seq++);
          } else if (op === 1) {
            const got = list.shift();
            assert.equal(got?.seq, model.shift());
            if (got) taken.push(got);
          } else if (taken.length > 0) {
            const [back] = taken.splice(pick % taken.length, 1);
            list.requeue(back!);
            model.push(back!.seq);
            model.sort((a, b) => a - b);
          }
          assert.equal(list.length, model.length);
          assert.equal(list.bytes, model.length * 3);
          assert.equal(list.peek()?.seq, model[0]);
        }
        assert.deepEqual(
          list.toArray().map((e) => e.seq),
          model,
        );
      },
    ),
    { numRuns: 500 },
  );
});
