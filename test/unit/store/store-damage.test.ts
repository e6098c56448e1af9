import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileMessageStore } from "../../../src/store/file-message-store.js";
import type { LogPosition } from "../../../src/store/segment-log.js";
import { nodeFs } from "../../../src/store/store-fs.js";
import { message } from "../../contract/message-store.contract.js";

function durable(store: FileMessageStore): Promise<void> {
  return new Promise((resolve, reject) => store.whenDurable((e) => (e ? reject(e) : resolve())));
}

function flipByte(dir: string, pos: LogPosition, at: number): void {
  const path = join(dir, `${String(pos.segment).padStart(12, "0")}.wlog`);
  const bytes = readFileSync(path);
  bytes[pos.offset + at] ^= 0x5a;
  writeFileSync(path, bytes);
}

function recoveredIds(store: FileMessageStore, queues: number[]) {
  const recovery = store.recover(new Set(queues));
  const ids: Record<number, number[]> = {};
  for (const q of queues) {
    ids[q] = [];
    const idx = recovery.queues.get(q)!.entries;
    for (let e = idx.shift(); e; e = idx.shift()) ids[q]!.push(e.msgId);
  }
  return { ids, report: recovery.report };
}

/** 60 persistent messages for queues 1 and 2 (even ids go to both) over 4 KiB segments. */
async function filledStore() {
  const dir = mkdtempSync(join(tmpdir(), "warren-damage-"));
  const store = new FileMessageStore({ dir, fs: nodeFs, segmentBytes: 4096 });
  store.recover(new Set([1, 2]));
  const refs: LogPosition[] = [];
  for (let id = 1; id <= 60; id++)
    refs.push(
      store.write(message(id, `body-${id}-${"b".repeat(300)}`), id % 2 ? [1] : [1, 2], true),
    );
  store.flush();
  await durable(store);
  return { dir, store, refs };
}

const range = (from: number, to: number, keep: (id: number) => boolean = () => true) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i).filter(keep);

test("a flipped byte in a message loses exactly that message, and recovery names the queues that lost it", async () => {
  const { dir, store, refs } = await filledStore();
  store.close();
  const victim = refs[29]!; // message 30, in queues 1 and 2, in a middle segment
  assert.ok(victim.segment > refs[0]!.segment && victim.segment < refs[59]!.segment);
  flipByte(dir, victim, victim.length - 10); // in the body: the header still reads
  const again = new FileMessageStore({ dir, fs: nodeFs, segmentBytes: 4096 });
  const { ids, report } = recoveredIds(again, [1, 2]);
  assert.deepEqual(
    ids[1],
    range(1, 60, (id) => id !== 30),
  );
  assert.deepEqual(
    ids[2],
    range(1, 60, (id) => id % 2 === 0 && id !== 30),
  );
  assert.deepEqual(
    [...report.lostByQueue],
    [
      [1, 1],
      [2, 1],
    ],
  );
  assert.equal(report.unattributed, 0);
  assert.equal(again.damage.corruptRecords, 1);
  assert.equal(again.damage.lostMessages, 2, "one message in two queues: two claims lost");
  assert.equal(again.damage.skippedBytes, victim.length);
  const [event] = again.damage.events;
  assert.equal(event?.when, "recovery");
  assert.equal(event?.record, "message");
  assert.equal(event?.msgId, 30);
  assert.deepEqual(event?.lost, [
    { queueId: 1, messages: 1 },
    { queueId: 2, messages: 1 },
  ]);
  again.close();
  rmSync(dir, { recursive: true, force: true });
});

test("damage to a message that was already acknowledged loses nothing", async () => {
  const { dir, store, refs } = await filledStore();
  store.settle(1, 11, refs[10]!);
  store.flush();
  await durable(store);
  store.close();
  flipByte(dir, refs[10]!, refs[10]!.length - 3);
  const again = new FileMessageStore({ dir, fs: nodeFs, segmentBytes: 4096 });
  const { ids, report } = recoveredIds(again, [1, 2]);
  assert.deepEqual(
    ids[1],
    range(1, 60, (id) => id !== 11),
  );
  assert.equal(report.lostByQueue.size, 0);
  assert.equal(again.damage.corruptRecords, 1);
  assert.equal(again.damage.lostMessages, 0);
  again.close();
  rmSync(dir, { recursive: true, force: true });
});

test("damage whose record cannot be told is reported with its queues unknown", async () => {
  const { dir, store, refs } = await filledStore();
  store.close();
  flipByte(dir, refs[20]!, 8); // the type byte
  const again = new FileMessageStore({ dir, fs: nodeFs, segmentBytes: 4096 });
  const { ids, report } = recoveredIds(again, [1, 2]);
  assert.deepEqual(
    ids[1],
    range(1, 60, (id) => id !== 21),
  );
  assert.equal(report.unattributed, 1);
  assert.equal(again.damage.events[0]?.lost, undefined);
  again.close();
  rmSync(dir, { recursive: true, force: true });
});
