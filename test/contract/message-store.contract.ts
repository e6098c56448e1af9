import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Message } from "../../src/message/message.js";
import { encodeProperties, summarizeProperties } from "../../src/protocol/content-properties.js";
import type { MessageStore } from "../../src/store/message-store.js";
import type { LogPosition } from "../../src/store/segment-log.js";

/** A store under test and a way to "restart" it: a new instance over the same data. */
export interface StoreFixture {
  readonly store: MessageStore;
  restart(): StoreFixture;
  dispose(): void;
}

export function message(id: number, body: string, props = {}): Message {
  const properties = encodeProperties(props);
  return {
    id,
    exchange: "ex",
    routingKey: `rk.${id}`,
    properties,
    summary: summarizeProperties(properties),
    body: Buffer.from(body),
    persistent: true,
    arrivedAtMs: 1_700_000_000_000 + id,
  };
}

function durable(store: MessageStore): Promise<void> {
  return new Promise((resolve, reject) => store.whenDurable((e) => (e ? reject(e) : resolve())));
}

/** Recovered message ids per queue, in order, with delivery counts. */
function recoveredIds(fixture: StoreFixture, queues: number[]) {
  const r = fixture.store.recover(new Set(queues));
  const out: Record<number, [number, number][]> = {};
  for (const q of queues) {
    out[q] = [];
    const idx = r.queues.get(q)!.entries;
    for (let e = idx.shift(); e; e = idx.shift()) out[q]!.push([e.msgId, e.deliveryCount]);
  }
  return { out, recovery: r };
}

/**
 * The message store contract: every MessageStore implementation passes it
 * (DESIGN §4: one contract suite per storage interface).
 */
export function messageStoreContract(name: string, open: () => StoreFixture): void {
  describe(`${name} meets the message store contract`, () => {
    test("a written message reads back with its properties, body and routing", async () => {
      const f = open();
      f.store.recover(new Set([1]));
      const m = message(7, "hello", {
        contentType: "text/plain",
        deliveryMode: 2,
        headers: new Map(),
      });
      const ref = f.store.write(m, [1], true);
      assert.deepEqual(f.store.read(ref), { ...m, persistent: true });
      await durable(f.store);
      assert.deepEqual(f.store.read(ref), { ...m, persistent: true });
      f.dispose();
    });

    test("a restart recovers unsettled persistent messages of durable queues, in order", async () => {
      let f = open();
      f.store.recover(new Set([1, 2]));
      const refs: LogPosition[] = [];
      for (let i = 1; i <= 5; i++) refs.push(f.store.write(message(i, `m${i}`), [1, 2], true));
      f.store.write(message(6, "transient"), [1], false);
      const other = f.store.write(message(7, "other queue"), [3], true);
      f.store.settle(1, 2, refs[1]!);
      f.store.delivered(2, 4, refs[3]!, 3);
      f.store.release(3, other); // queue 3 was deleted
      await durable(f.store);
      f = f.restart();
      const { out, recovery } = recoveredIds(f, [1, 2]);
      assert.deepEqual(out[1], [
        [1, 0],
        [3, 0],
        [4, 0],
        [5, 0],
      ]);
      assert.deepEqual(out[2], [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 3],
        [5, 0],
      ]);
      assert.equal(recovery.maxMessageId >= 5, true);
      f.dispose();
    });

    test("recovered messages read back whole", async () => {
      let f = open();
      f.store.recover(new Set([1]));
      f.store.write(message(1, "x".repeat(5000), { deliveryMode: 2 }), [1], true);
      await durable(f.store);
      f = f.restart();
      const r = f.store.recover(new Set([1]));
      const e = r.queues.get(1)!.entries.shift()!;
      const m = f.store.read({ segment: e.segment, offset: e.offset, length: e.length });
      assert.equal(m.body.toString(), "x".repeat(5000));
      assert.equal(m.summary.deliveryMode, 2);
      assert.equal(e.bodyBytes, 5000);
      f.dispose();
    });

    test("messages of a queue id at or above the definitions' nextQueueId are kept, not reclaimed", async () => {
      // Stale definitions (an old backup restored) do not name queue 5: its messages
      // must survive until definitions that name it come back.
      let f = open();
      f.store.recover(new Set([1, 5]));
      for (let i = 1; i <= 20; i++)
        f.store.write(message(i, "y".repeat(300)), [i % 2 ? 1 : 5], true);
      f.store.settle(5, 21, f.store.write(message(21, "settled"), [5], true));
      await durable(f.store);
      f = f.restart();
      const stale = f.store.recover(new Set([1]), { nextQueueId: 2 });
      assert.deepEqual(stale.unclaimed.queueIds, [5]);
      assert.equal(stale.unclaimed.messages, 10);
      assert.equal(stale.maxQueueId, 5);
      f = f.restart();
      const { out } = recoveredIds(f, [1, 5]);
      assert.deepEqual(
        out[5]!.map(([id]) => id),
        [2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
      );
      f.dispose();
    });

    test("without definitions every persistent message is unclaimed and kept", async () => {
      let f = open();
      f.store.recover(new Set([3]));
      for (let i = 1; i <= 10; i++) f.store.write(message(i, "z".repeat(300)), [3], true);
      f.store.write(message(11, "transient"), [3], false);
      await durable(f.store);
      f = f.restart();
      const none = f.store.recover(new Set(), { nextQueueId: undefined });
      assert.deepEqual(none.unclaimed.queueIds, [3]);
      assert.equal(none.unclaimed.messages, 10);
      assert.ok(none.unclaimed.segments.length > 0);
      f = f.restart();
      assert.equal(recoveredIds(f, [3]).out[3]!.length, 10);
      f.dispose();
    });

    test("ids kept by an earlier start stay kept; deleted queues' messages and discarded ones go", async () => {
      let f = open();
      f.store.recover(new Set([1, 2, 3]));
      for (let i = 1; i <= 12; i++) f.store.write(message(i, "w".repeat(300)), [(i % 3) + 1], true);
      await durable(f.store);
      f = f.restart();
      // Queue 2 was deleted (below nextQueueId, not held); queue 3 was kept by an earlier start.
      const r = f.store.recover(new Set([1]), { nextQueueId: 4, heldQueueIds: new Set([3]) });
      assert.deepEqual(r.unclaimed.queueIds, [3]);
      f = f.restart();
      const again = recoveredIds(f, [1, 2, 3]).out;
      assert.equal(again[1]!.length, 4);
      assert.equal(again[3]!.length, 4, "held queue 3 kept");
      f = f.restart();
      const dropped = f.store.recover(new Set([1]), {
        nextQueueId: 4,
        heldQueueIds: new Set([3]),
        discardUnclaimed: true,
      });
      assert.deepEqual(dropped.unclaimed.queueIds, [3], "reported even when discarded");
      // Once discarded, the node no longer holds id 3 (and never reuses it).
      f = f.restart();
      const after = f.store.recover(new Set([1]), { nextQueueId: 4 });
      assert.deepEqual(after.unclaimed.queueIds, []);
      assert.equal(after.queues.get(1)!.entries.length, 4);
      f.dispose();
    });

    test("random writes, settles, deliveries and restarts agree with a model", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.record({
                op: fc.constant("write" as const),
                queues: fc.subarray([1, 2, 3], { minLength: 1 }),
                persistent: fc.boolean(),
              }),
              fc.record({ op: fc.constant("settle" as const), pick: fc.nat() }),
              fc.record({ op: fc.constant("deliver" as const), pick: fc.nat() }),
              fc.record({ op: fc.constant("restart" as const) }),
            ),
            { maxLength: 40 },
          ),
          async (ops) => {
            let f = open();
            const durableQueues = [1, 2];
            f.store.recover(new Set(durableQueues));
            // model: per queue, list of [msgId, persistent, count, ref]
            let model = new Map<
              number,
              { id: number; persistent: boolean; count: number; ref: LogPosition }[]
            >([1, 2, 3].map((q) => [q, []]));
            let nextId = 1;
            for (const o of ops) {
              if (o.op === "write") {
                const id = nextId++;
                const ref = f.store.write(message(id, `b${id}`), o.queues, o.persistent);
                for (const q of o.queues)
                  model.get(q)!.push({ id, persistent: o.persistent, count: 0, ref });
              } else if (o.op === "settle" || o.op === "deliver") {
                const all = [...model].flatMap(([q, list]) => list.map((e) => ({ q, e })));
                if (all.length === 0) continue;
                const { q, e } = all[o.pick % all.length]!;
                if (o.op === "settle") {
                  f.store.settle(q, e.id, e.ref);
                  model.get(q)!.splice(model.get(q)!.indexOf(e), 1);
                } else {
                  e.count++;
                  f.store.delivered(q, e.id, e.ref, e.count);
                }
              } else {
                await durable(f.store);
                f = f.restart();
                const r = f.store.recover(new Set(durableQueues));
                nextId = r.maxMessageId + 1;
                const next = new Map<
                  number,
                  { id: number; persistent: boolean; count: number; ref: LogPosition }[]
                >();
                for (const q of [1, 2, 3]) {
                  const expected = q === 3 ? [] : model.get(q)!.filter((e) => e.persistent);
                  const got: {
                    id: number;
                    persistent: boolean;
                    count: number;
                    ref: LogPosition;
                  }[] = [];
                  const idx = r.queues.get(q)?.entries;
                  for (let e = idx?.shift(); e; e = idx?.shift()) {
                    got.push({
                      id: e.msgId,
                      persistent: true,
                      count: e.deliveryCount,
                      ref: { segment: e.segment, offset: e.offset, length: e.length },
                    });
                  }
                  assert.deepEqual(
                    got.map((e) => [e.id, e.count]),
                    expected.map((e) => [e.id, e.count]),
                    `queue ${q}`,
                  );
                  for (const e of got)
                    assert.equal(f.store.read(e.ref).body.toString(), `b${e.id}`);
                  next.set(q, got);
                }
                model = next;
              }
            }
            f.dispose();
          },
        ),
        { numRuns: 60 },
      );
    });
  });
}
