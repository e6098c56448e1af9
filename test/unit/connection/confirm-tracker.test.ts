import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConfirmTracker } from "../../../src/connection/confirm-tracker.js";

/**
 * A client's view of confirms, as amqplib keeps it: a set of unconfirmed sequence
 * numbers; a multiple ack or nack settles every unconfirmed number up to its tag.
 */
function applyToClient(
  pending: Map<number, "ack" | "nack" | undefined>,
  methods: ReturnType<ConfirmTracker["drain"]>,
) {
  for (const m of methods) {
    if (m.name !== "basic.ack" && m.name !== "basic.nack") throw new Error(m.name);
    const outcome = m.name === "basic.ack" ? "ack" : "nack";
    for (const [seq, state] of pending) {
      if (state !== undefined) continue;
      if (m.multiple ? seq <= m.deliveryTag : seq === m.deliveryTag) pending.set(seq, outcome);
    }
    if (!m.multiple)
      assert.ok(pending.has(m.deliveryTag), `confirm for unknown tag ${m.deliveryTag}`);
  }
}

test("coalesced confirms settle every publish exactly as the broker decided", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.boolean()), {
        maxLength: 150,
      }),
      (ops) => {
        const tracker = new ConfirmTracker();
        const decided = new Map<number, "ack" | "nack">();
        const client = new Map<number, "ack" | "nack" | undefined>();
        const open: number[] = [];
        for (const [op, pick, ok] of ops) {
          if (op <= 1) {
            const seq = tracker.publish();
            client.set(seq, undefined);
            open.push(seq);
          } else if (op === 2 && open.length > 0) {
            const [seq] = open.splice(pick % open.length, 1);
            if (ok) tracker.ack(seq!);
            else tracker.nack(seq!);
            decided.set(seq!, ok ? "ack" : "nack");
          } else {
            applyToClient(client, tracker.drain());
          }
        }
        applyToClient(client, tracker.drain());
        for (const [seq, state] of client) assert.equal(state, decided.get(seq), `publish ${seq}`);
        assert.equal(tracker.outstanding, open.length);
      },
    ),
    { numRuns: 1000 },
  );
});

test("in-order acks go out as one multiple ack", () => {
  const tracker = new ConfirmTracker();
  for (let i = 0; i < 5; i++) tracker.ack(tracker.publish());
  assert.deepEqual(tracker.drain(), [{ name: "basic.ack", deliveryTag: 5, multiple: true }]);
});
