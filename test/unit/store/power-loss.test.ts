import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FileMessageStore } from "../../../src/store/file-message-store.js";
import { message } from "../../contract/message-store.contract.js";
import { SimulatedDisk } from "../../support/simulated-disk.js";

const DIR = "/sim/msgs";

/**
 * Random writes and settles with random power losses in between: every message the
 * store called durable, and did not settle, is recovered. Messages whose durability
 * callback had not run may or may not survive; nothing else may appear.
 */
test("after a power loss every message reported durable is recovered", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant("write" as const), n: fc.integer({ min: 1, max: 20 }) }),
          fc.record({ op: fc.constant("settle" as const), pick: fc.nat() }),
          fc.record({ op: fc.constant("flush" as const) }),
          fc.record({ op: fc.constant("wait" as const) }),
          fc.record({ op: fc.constant("powerLoss" as const) }),
        ),
        { maxLength: 30 },
      ),
      async (ops) => {
        const disk = new SimulatedDisk();
        let store = new FileMessageStore({
          dir: DIR,
          fs: disk,
          segmentBytes: 2048,
          scheduleFlush: () => {},
        });
        store.recover(new Set([1]));
        const durable = new Set<number>();
        const settled = new Set<number>();
        const written: { id: number; ref: ReturnType<typeof store.write> }[] = [];
        let nextId = 1;
        for (const o of ops) {
          if (o.op === "write") {
            for (let i = 0; i < o.n; i++) {
              const id = nextId++;
              written.push({
                id,
                ref: store.write(message(id, `body-${id}`.repeat(8)), [1], true),
              });
              store.whenDurable((err) => {
                if (!err) durable.add(id);
              });
            }
          } else if (o.op === "settle") {
            const live = written.filter((w) => !settled.has(w.id));
            if (live.length === 0) continue;
            const w = live[o.pick % live.length]!;
            store.settle(1, w.id, w.ref);
            settled.add(w.id);
          } else if (o.op === "flush") {
            store.flush();
          } else if (o.op === "wait") {
            await new Promise((r) => setImmediate(r));
          } else {
            disk.powerLoss();
            store = new FileMessageStore({
              dir: DIR,
              fs: disk,
              segmentBytes: 2048,
              scheduleFlush: () => {},
            });
            const r = store.recover(new Set([1]));
            const got = new Set<number>();
            const idx = r.queues.get(1)!.entries;
            for (let e = idx.shift(); e; e = idx.shift()) {
              got.add(e.msgId);
              assert.ok(
                written.some((w) => w.id === e.msgId),
                `unknown message ${e.msgId} recovered`,
              );
            }
            for (const id of durable) {
              if (!settled.has(id)) assert.ok(got.has(id), `durable message ${id} lost`);
            }
            // What came back is the new truth: lost undurable writes are forgotten.
            written.splice(0, written.length, ...written.filter((w) => got.has(w.id)));
            nextId = r.maxMessageId + 1;
            for (const id of [...durable]) if (!got.has(id)) durable.delete(id);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
