/**
 * What the file-backed store must survive beyond the shared contract: torn writes at every
 * byte, damage in old segments, a crash between a snapshot file and its WAL mark, and
 * deletion of segments that snapshots have made unnecessary.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import type { LogEntry } from "../../../src/raft/index.js";
import { FileRaftLogStore } from "../../../src/store/file-raft-log-store.js";
import { writeSnapshotFile } from "../../../src/store/snapshot-file.js";
import { nodeFs } from "../../../src/store/store-fs.js";

const founders = { voters: ["a", "b", "c"], learners: [] };
let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "warren-file-store-"));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function entries(from: number, to: number, term = 1): LogEntry[] {
  const out: LogEntry[] = [];
  for (let index = from; index <= to; index++) {
    out.push({ index, term, kind: "command", data: new TextEncoder().encode(`payload-${index}`) });
  }
  return out;
}

async function walFiles(): Promise<string[]> {
  return (await readdir(join(directory, "wal"))).sort();
}

test("a write torn at any byte is cut off on recovery and every earlier sync is intact", async () => {
  const store = await FileRaftLogStore.open(directory);
  store.createGroup("g", founders);
  store.write("g", [{ type: "entries", entries: entries(1, 3) }]);
  await store.sync();
  const [segment] = await walFiles();
  const path = join(directory, "wal", segment);
  const syncedBytes = (await stat(path)).size;
  store.write("g", [
    { type: "entries", entries: entries(4, 6) },
    { type: "hardState", hardState: { term: 1, votedFor: "a", commitIndex: 5 } },
  ]);
  await store.close();
  const full = await readFile(path);
  for (let cut = syncedBytes; cut < full.length; cut++) {
    await writeFile(path, full.subarray(0, cut));
    const reopened = await FileRaftLogStore.open(directory);
    const loaded = reopened.load("g")!;
    // Records are whole or absent: some prefix of the second batch's records survives.
    const last = loaded.entries[loaded.entries.length - 1].index;
    assert.ok(last === 3 || last === 6, `cut at ${cut}: last entry ${last}`);
    if (loaded.hardState.commitIndex === 5) assert.equal(last, 6);
    await reopened.abandon();
    assert.equal((await stat(path)).size <= cut, true, "the torn tail was truncated");
    // Each open starts a new segment; remove it so the next cut tears the newest segment again.
    for (const name of await walFiles()) if (name > segment) await rm(join(directory, "wal", name));
  }
});

test("damage in a segment other than the newest refuses to open rather than lose data", async () => {
  const store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 256 });
  store.createGroup("g", founders);
  for (let i = 1; i <= 20; i += 2) {
    store.write("g", [{ type: "entries", entries: entries(i, i + 1) }]);
    await store.sync();
  }
  await store.close();
  const files = await walFiles();
  assert.ok(files.length > 2, `expected several segments, got ${files.length}`);
  const first = join(directory, "wal", files[0]);
  await truncate(first, (await stat(first)).size - 3);
  await assert.rejects(FileRaftLogStore.open(directory), /damaged/);
});

test("segments are deleted once every entry in them is covered by a snapshot, and recovery is unchanged", async () => {
  const store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 512 });
  store.createGroup("q", founders);
  store.createGroup("meta", founders);
  for (let i = 1; i <= 60; i++) {
    store.write("q", [{ type: "entries", entries: entries(i, i) }]);
    if (i % 10 === 0) store.write("meta", [{ type: "entries", entries: entries(i / 10, i / 10) }]);
    await store.sync();
  }
  const before = store.segmentIds().length;
  assert.ok(before > 4, `segments: ${before}`);
  const snapshotAt = (index: number) => ({
    meta: { index, term: 1, membership: founders },
    data: new Uint8Array([index]),
  });
  store.write("q", [{ type: "compact", snapshot: snapshotAt(55) }]);
  store.write("meta", [{ type: "compact", snapshot: snapshotAt(6) }]);
  store.write("q", [{ type: "entries", entries: entries(61, 61) }]);
  await store.sync();
  assert.ok(store.segmentIds().length < before, "covered segments were deleted");
  const expectedQ = store.load("q");
  const expectedMeta = store.load("meta");
  await store.close();
  const reopened = await FileRaftLogStore.open(directory, { segmentSizeBytes: 512 });
  assert.deepEqual(reopened.load("q"), expectedQ);
  assert.deepEqual(reopened.load("meta"), expectedMeta);
  assert.deepEqual(
    reopened.load("q")!.entries.map((e) => e.index),
    [56, 57, 58, 59, 60, 61],
  );
  await reopened.close();
});

test("an installed snapshot whose WAL mark never became durable still wipes the old log", async () => {
  const store = await FileRaftLogStore.open(directory);
  store.createGroup("g", founders);
  store.write("g", [{ type: "entries", entries: entries(1, 5, 1) }]);
  await store.sync();
  await store.close();
  // The crash window: the snapshot file is durable, the WAL mark after it is not.
  const snapshot = { meta: { index: 8, term: 2, membership: founders }, data: new Uint8Array([8]) };
  await writeSnapshotFile(nodeFs, join(directory, "snapshots"), "g", {
    mark: "install",
    snapshot,
  });
  const reopened = await FileRaftLogStore.open(directory);
  const loaded = reopened.load("g")!;
  assert.deepEqual(loaded.snapshot, snapshot);
  assert.deepEqual(loaded.entries, []);
  await reopened.close();
});

test("group ids of any text are stored, including ones unsafe as file names", async () => {
  const store = await FileRaftLogStore.open(directory);
  const groupId = "queue/with spaces/../and ünïcode";
  store.createGroup(groupId, founders);
  const snapshot = { meta: { index: 3, term: 1, membership: founders }, data: new Uint8Array([3]) };
  store.write(groupId, [
    { type: "entries", entries: entries(1, 4) },
    { type: "compact", snapshot },
  ]);
  await store.close();
  const reopened = await FileRaftLogStore.open(directory);
  assert.deepEqual(reopened.groupIds(), [groupId]);
  assert.deepEqual(reopened.load(groupId)!.snapshot, snapshot);
  await reopened.close();
});

test("regression: an installed snapshot whose mark sat in a deleted segment keeps the entries after it", async () => {
  const store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 256 });
  store.createGroup("g", founders);
  store.createGroup("h", founders);
  const installed = {
    meta: { index: 3, term: 2, membership: founders },
    data: new Uint8Array([3]),
  };
  // The install mark and enough of h's entries to fill the first segment...
  store.write("g", [{ type: "install", snapshot: installed }]);
  store.write("h", [{ type: "entries", entries: entries(1, 10) }]);
  await store.sync();
  // ...so g's next entries open the second segment.
  store.write("g", [{ type: "entries", entries: entries(4, 5, 2) }]);
  await store.sync();
  for (let i = 11; i <= 40; i++) {
    store.write("h", [{ type: "entries", entries: entries(i, i) }]);
    const snapshot = {
      meta: { index: i, term: 1, membership: founders },
      data: new Uint8Array([i]),
    };
    store.write("h", [{ type: "compact", snapshot }]);
    await store.sync();
  }
  assert.ok(store.segmentIds()[0] > 1, "the segment holding the install mark was deleted");
  await store.close();
  const reopened = await FileRaftLogStore.open(directory, { segmentSizeBytes: 256 });
  assert.deepEqual(
    reopened.load("g")!.entries.map((e) => e.index),
    [4, 5],
  );
  await reopened.close();
});

test("a segment is deleted only once every sync with records in it is durable", async () => {
  // Segment deletion runs when a sync becomes durable. A later sync whose records span
  // several segments may still be in flight then: the segments holding its first records
  // (here: group b's creation and first entries) must stay until it is durable too.
  const store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 256 });
  store.createGroup("a", founders);
  store.write("a", [{ type: "entries", entries: entries(1, 3) }]);
  await store.sync();
  const covered = { meta: { index: 3, term: 1, membership: founders }, data: new Uint8Array([3]) };
  store.write("a", [{ type: "compact", snapshot: covered }]);
  await store.sync();
  store.write("a", [{ type: "hardState", hardState: { term: 1, votedFor: "a", commitIndex: 3 } }]);
  const first = store.sync();
  // One turn: the first sync's fdatasync is in flight when the second sync appends.
  await new Promise((resolve) => setImmediate(resolve));
  store.createGroup("b", founders);
  const big = (index: number): LogEntry => ({
    index,
    term: 1,
    kind: "command",
    data: new Uint8Array(200).fill(index),
  });
  store.write(
    "b",
    [1, 2, 3, 4].map((i) => ({ type: "entries", entries: [big(i)] }) as const),
  );
  const second = store.sync();
  await Promise.all([first, second]);
  const expected = store.load("b");
  assert.deepEqual(
    expected!.entries.map((e) => e.index),
    [1, 2, 3, 4],
  );
  await store.close();
  const reopened = await FileRaftLogStore.open(directory, { segmentSizeBytes: 256 });
  assert.deepEqual(reopened.load("b"), expected);
  await reopened.close();
});

test("regression: damage in the middle of the newest segment refuses the open instead of cutting off the records after it", async () => {
  // The store before the one segment log took any bad record in the newest segment for a
  // torn write and truncated everything after it: entries 4 to 6 here, durable and acked.
  const store = await FileRaftLogStore.open(directory);
  store.createGroup("g", founders);
  for (let i = 1; i <= 6; i++) {
    store.write("g", [{ type: "entries", entries: entries(i, i) }]);
    await store.sync();
  }
  await store.close();
  const files = await walFiles();
  const path = join(directory, "wal", files[files.length - 1]);
  const bytes = await readFile(path);
  const at = bytes.indexOf("payload-3");
  assert.ok(at > 0);
  bytes[at] ^= 0x01;
  await writeFile(path, bytes);
  await assert.rejects(FileRaftLogStore.open(directory), /damaged/);
  bytes[at] ^= 0x01;
  await writeFile(path, bytes);
  const reopened = await FileRaftLogStore.open(directory);
  assert.deepEqual(
    reopened.load("g")!.entries.map((e) => e.index),
    [1, 2, 3, 4, 5, 6],
    "the refused open changed nothing",
  );
  await reopened.close();
});

test("WAL files of the earlier, unreleased format are refused with what to do", async () => {
  await mkdir(join(directory, "wal"), { recursive: true });
  await writeFile(join(directory, "wal", "00000000000000000001.wal"), Buffer.alloc(16));
  await assert.rejects(FileRaftLogStore.open(directory), /earlier, unreleased format.*remove/);
});
