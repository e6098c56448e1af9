/**
 * Disk faults injected into the Raft log store through StoreFs (issue 15): a full disk or an
 * I/O error fails the sync that hit it, with the file system's error, and never corrupts the
 * log; what was durable before stays readable after a restart on the same files.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import type { LogEntry, PersistedState } from "../../../src/raft/index.js";
import { FileRaftLogStore } from "../../../src/store/file-raft-log-store.js";
import { type FaultyFs, faultyFs } from "../../support/faulty-fs.js";

const founders = { voters: ["a", "b", "c"], learners: [] };
let directory: string;
let fs: FaultyFs;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "warren-raft-faults-"));
  fs = faultyFs();
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function entries(from: number, to: number, term = 1): LogEntry[] {
  const out: LogEntry[] = [];
  for (let index = from; index <= to; index++) {
    out.push({ index, term, kind: "command", data: new TextEncoder().encode(`payload-${index}`) });
  }
  return out;
}

const indexes = (state: PersistedState | undefined) => state?.entries.map((e) => e.index);

/** A store on the faulty file system with group g holding entries 1..3, durable. */
async function storeWithDurablePrefix(segmentSizeBytes?: number): Promise<FileRaftLogStore> {
  const store = await FileRaftLogStore.open(directory, { fs, segmentSizeBytes });
  store.createGroup("g", founders);
  store.write("g", [
    { type: "entries", entries: entries(1, 3) },
    { type: "hardState", hardState: { term: 1, votedFor: "a", commitIndex: 2 } },
  ]);
  await store.sync();
  return store;
}

/** The store as a restart on the same files finds it (on the plain file system). */
async function restarted(): Promise<FileRaftLogStore> {
  return FileRaftLogStore.open(directory);
}

function walBytes(): number {
  const wal = join(directory, "wal");
  return readdirSync(wal).reduce((sum, name) => sum + statSync(join(wal, name)).size, 0);
}

for (const code of ["ENOSPC", "EIO"]) {
  test(`${code} on a WAL write fails that sync, leaves the file on whole records, and a restart recovers what was durable`, async () => {
    const store = await storeWithDurablePrefix();
    const durable = store.load("g");
    const before = walBytes();
    fs.writeFault = code;
    store.write("g", [
      { type: "entries", entries: entries(4, 6) },
      { type: "hardState", hardState: { term: 1, votedFor: "a", commitIndex: 5 } },
    ]);
    await assert.rejects(store.sync(), new RegExp(code));
    assert.deepEqual(store.load("g"), durable, "load() shows only what is durable");
    assert.equal(walBytes(), before, "the half-written record was cut off");
    await store.abandon();
    const reopened = await restarted();
    assert.deepEqual(reopened.load("g"), durable);
    await reopened.close();
  });
}

test("after a failed write, the next sync writes the failed writes and its own, in order", async () => {
  const store = await storeWithDurablePrefix();
  fs.writeFault = "ENOSPC";
  store.write("g", [{ type: "entries", entries: entries(4, 5) }]);
  await assert.rejects(store.sync(), /ENOSPC/);
  fs.writeFault = undefined;
  store.write("g", [
    { type: "entries", entries: entries(6, 6) },
    { type: "hardState", hardState: { term: 1, votedFor: "a", commitIndex: 6 } },
  ]);
  await store.sync();
  assert.deepEqual(indexes(store.load("g")), [1, 2, 3, 4, 5, 6]);
  const expected = store.load("g");
  await store.close();
  const reopened = await restarted();
  assert.deepEqual(reopened.load("g"), expected);
  await reopened.close();
});

test("a full disk while the store writes a snapshot file fails that sync and leaves no temporary file; the next sync completes it", async () => {
  const store = await storeWithDurablePrefix();
  const durable = store.load("g");
  const snapshot = { meta: { index: 2, term: 1, membership: founders }, data: new Uint8Array([2]) };
  fs.writeFault = "ENOSPC";
  store.write("g", [{ type: "compact", snapshot }]);
  await assert.rejects(store.sync(), /ENOSPC/);
  assert.deepEqual(readdirSync(join(directory, "snapshots")), [], "no snapshot file, no .tmp");
  assert.deepEqual(store.load("g"), durable);
  fs.writeFault = undefined;
  await store.sync();
  assert.deepEqual(store.load("g")!.snapshot, snapshot);
  assert.deepEqual(indexes(store.load("g")), [3]);
  await store.close();
  const reopened = await restarted();
  assert.deepEqual(reopened.load("g")!.snapshot, snapshot);
  assert.deepEqual(indexes(reopened.load("g")), [3]);
  await reopened.close();
});

test("EIO on fdatasync fails that sync and every later one; a restart finds the durable state or that whole batch, nothing torn", async () => {
  const store = await storeWithDurablePrefix();
  fs.syncFault = "EIO";
  store.write("g", [{ type: "entries", entries: entries(4, 6) }]);
  await assert.rejects(store.sync(), /EIO/);
  fs.syncFault = undefined;
  store.write("g", [{ type: "entries", entries: entries(7, 7) }]);
  await assert.rejects(store.sync(), /EIO/, "the kernel may have dropped the data: no more syncs");
  assert.deepEqual(indexes(store.load("g")), [1, 2, 3]);
  await store.abandon();
  const reopened = await restarted();
  const got = indexes(reopened.load("g"));
  assert.ok(
    got !== undefined && ([3, 6] as number[]).includes(got.length),
    `recovered entries ${got}`,
  );
  await reopened.close();
});

test("EIO reading the WAL at open refuses the open and changes nothing on disk", async () => {
  const store = await storeWithDurablePrefix();
  const durable = store.load("g");
  await store.close();
  const before = walBytes();
  fs.readFault = "EIO";
  await assert.rejects(FileRaftLogStore.open(directory, { fs }), /EIO/);
  assert.equal(walBytes(), before);
  const reopened = await restarted();
  assert.deepEqual(reopened.load("g"), durable);
  await reopened.close();
});

test("EMFILE when starting a new segment keeps appending to the current one; no sync fails", async () => {
  const store = await storeWithDurablePrefix(256);
  const segments = store.segmentIds().length;
  fs.openFault = "EMFILE";
  fs.openFaultFlags = "w";
  for (let i = 4; i <= 20; i++) {
    store.write("g", [{ type: "entries", entries: entries(i, i) }]);
    await store.sync();
  }
  assert.equal(store.segmentIds().length, segments, "no segment could be started");
  fs.openFault = undefined;
  store.write("g", [{ type: "entries", entries: entries(21, 21) }]);
  await store.sync();
  assert.ok(store.segmentIds().length > segments, "the rotation succeeded once it could");
  const expected = store.load("g");
  assert.deepEqual(
    indexes(expected),
    Array.from({ length: 21 }, (_, i) => i + 1),
  );
  await store.close();
  const reopened = await restarted();
  assert.deepEqual(reopened.load("g"), expected);
  await reopened.close();
});

test("syncs made while one is in flight share one writev and one fdatasync", async () => {
  const store = await storeWithDurablePrefix();
  let fdatasyncs = 0;
  const fdatasync = fs.fdatasync;
  fs.fdatasync = (fd, cb) => {
    fdatasyncs++;
    fdatasync(fd, cb);
  };
  const writes = fs.writevCalls;
  const syncs: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    store.write("g", [{ type: "entries", entries: entries(4 + i, 4 + i) }]);
    syncs.push(store.sync());
  }
  await Promise.all(syncs);
  assert.ok(fs.writevCalls - writes <= 2, `${fs.writevCalls - writes} writes for 20 syncs`);
  assert.ok(fdatasyncs <= 2, `${fdatasyncs} fdatasyncs for 20 syncs`);
  assert.equal(store.load("g")!.entries.length, 23);
  await store.close();
});
