import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type LogPosition, MAX_WRITE_BYTES, SegmentLog } from "../../../src/store/segment-log.js";
import { nodeFs } from "../../../src/store/store-fs.js";
import { faultyFs } from "../../support/faulty-fs.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "warren-log-faults-"));
}

function durable(log: SegmentLog): Promise<Error | undefined> {
  return new Promise((resolve) => log.whenDurable(resolve));
}

function reopen(dir: string, segmentBytes = 1 << 20): string[] {
  const got: string[] = [];
  const log = new SegmentLog(dir, nodeFs, segmentBytes);
  log.open((type, payload) => got.push(`${type}:${payload.toString()}`));
  log.close();
  return got;
}

const text = (log: SegmentLog, pos: LogPosition) => log.read(pos).payload.toString();

test("a write error nacks its batch but keeps the records, readable, and writes them at the same offsets once space returns", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 1 << 20, { retryMs: 0 });
  log.open(() => {});
  log.append(1, [Buffer.from("before")]);
  log.flush();
  assert.equal(await durable(log), undefined);
  fs.writeFault = "ENOSPC";
  const held = log.append(1, [Buffer.from("held-through-enospc")]);
  const failed = durable(log);
  log.flush();
  assert.match(String((await failed)?.message), /ENOSPC/, "the batch's confirms are nacked");
  assert.ok(log.writeError);
  assert.equal(text(log, held), "held-through-enospc", "still readable, from memory");
  const later = log.append(1, [Buffer.from("appended-while-full")]);
  log.flush();
  assert.equal(text(log, later), "appended-while-full");
  fs.writeFault = undefined;
  const after = log.append(1, [Buffer.from("after")]);
  log.flush();
  assert.equal(await durable(log), undefined);
  assert.equal(log.writeError, undefined, "a successful write clears the error");
  // Every position handed out reads back from the file now.
  assert.equal(text(log, held), "held-through-enospc");
  assert.equal(text(log, later), "appended-while-full");
  assert.equal(text(log, after), "after");
  log.close();
  assert.deepEqual(reopen(dir), [
    "1:before",
    "1:held-through-enospc",
    "1:appended-while-full",
    "1:after",
  ]);
  rmSync(dir, { recursive: true });
});

test("a short write keeps the whole records that reached the file and rewrites only the rest", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 1 << 20, { retryMs: 0 });
  log.open(() => {});
  const records = Array.from({ length: 5 }, (_, i) => `record-${i}-${"x".repeat(40)}`);
  const first = 9 + records[0]!.length;
  fs.spaceLeftBytes = first * 2 + 10; // two whole records and part of the third fit
  const positions = records.map((r) => log.append(1, [Buffer.from(r)]));
  log.flush();
  assert.match(String(log.writeError?.message), /ENOSPC/, "the write stopped where space ran out");
  assert.equal(log.unwrittenBytes, first * 3, "three records are still held");
  const file = join(dir, readdirSync(dir).sort().at(-1)!);
  assert.equal(statSync(file).size, 8 + first * 2, "the partial record was cut off");
  fs.spaceLeftBytes = undefined;
  log.flush();
  assert.equal(await durable(log), undefined);
  assert.deepEqual(
    positions.map((p) => text(log, p)),
    records,
  );
  log.close();
  assert.deepEqual(
    reopen(dir),
    records.map((r) => `1:${r}`),
  );
  rmSync(dir, { recursive: true });
});

test("while the disk refuses writes, they are tried again once per retry interval, not every turn", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  let now = 1000;
  const log = new SegmentLog(dir, fs, 1 << 20, { retryMs: 500, clock: () => now });
  log.open(() => {});
  fs.writeFault = "ENOSPC";
  log.append(1, [Buffer.from("a")]);
  log.flush();
  const calls = fs.writevCalls;
  for (let i = 0; i < 10; i++) {
    log.append(1, [Buffer.from(`b${i}`)]);
    log.flush();
  }
  assert.equal(fs.writevCalls, calls, "no write before the retry is due");
  const waiting = durable(log);
  fs.writeFault = undefined;
  now += 500;
  log.flush();
  assert.equal(await waiting, undefined, "a waiter registered meanwhile is confirmed by the retry");
  log.close();
  assert.equal(reopen(dir).length, 11);
  rmSync(dir, { recursive: true });
});

test("a rotation that cannot write the next segment's header keeps appending to the current one, and rotates later", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 256, { retryMs: 0 });
  log.open(() => {});
  const first = log.activeSegment;
  const wrote: LogPosition[] = [];
  for (let i = 0; i < 4; i++) wrote.push(log.append(1, [Buffer.from(`r${i}-${"y".repeat(50)}`)]));
  log.flush();
  assert.equal(await durable(log), undefined);
  // The next append crosses 256 bytes: the rotation writes the new header, and fails.
  const realWritev = fs.writevSync;
  fs.writevSync = (fd, buffers, position) => {
    if (position === 0) throw Object.assign(new Error("ENOSPC: no space"), { code: "ENOSPC" });
    return realWritev(fd, buffers, position);
  };
  for (let i = 4; i < 8; i++) wrote.push(log.append(1, [Buffer.from(`r${i}-${"y".repeat(50)}`)]));
  assert.equal(log.activeSegment, first, "still the same segment");
  assert.ok(log.rotationError, "the failed rotation is reported");
  assert.deepEqual(readdirSync(dir).length, 1, "no half-made segment file is left");
  log.flush();
  assert.equal(await durable(log), undefined, "publishes in between are confirmed");
  fs.writevSync = realWritev;
  wrote.push(log.append(1, [Buffer.from(`r8-${"y".repeat(50)}`)]));
  log.flush();
  assert.ok(log.activeSegment > first, "rotated once the header could be written");
  assert.equal(log.rotationError, undefined);
  assert.equal(await durable(log), undefined);
  assert.deepEqual(
    wrote.map((p) => text(log, p).slice(0, 2)),
    ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"],
  );
  log.close();
  assert.equal(reopen(dir, 256).length, 9);
  rmSync(dir, { recursive: true });
});

test("EMFILE when opening the next segment keeps appending to the current one; nothing throws into the caller", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 200, { retryMs: 0 });
  log.open(() => {});
  const first = log.activeSegment;
  fs.openFault = "EMFILE";
  const wrote: LogPosition[] = [];
  for (let i = 0; i < 20; i++) wrote.push(log.append(2, [Buffer.from(`m${i}-${"z".repeat(40)}`)]));
  log.flush();
  assert.equal(await durable(log), undefined);
  assert.equal(log.activeSegment, first);
  assert.match(String(log.rotationError?.message), /EMFILE/);
  fs.openFault = undefined;
  log.flush(); // the retry (as the runtime's tick does)
  assert.ok(log.activeSegment > first);
  assert.equal(log.rotationError, undefined);
  assert.equal(wrote.map((p) => text(log, p)).length, 20);
  log.close();
  assert.equal(reopen(dir, 200).length, 20);
  rmSync(dir, { recursive: true });
});

test("a log of hundreds of segments keeps a bounded number of files open, and reads them all", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 128, { readHandles: 4 });
  log.open(() => {});
  const positions: LogPosition[] = [];
  for (let i = 0; i < 1000; i++) positions.push(log.append(1, [Buffer.from(`seg-record-${i}`)]));
  log.flush();
  assert.equal(await durable(log), undefined);
  assert.ok(log.segmentNumbers().length >= 150, `${log.segmentNumbers().length} segments`);
  // Read them in an order that defeats any cache: every one opens a handle.
  for (let round = 0; round < 2; round++)
    for (const [i, p] of positions.entries())
      assert.equal(log.read(p).payload.toString(), `seg-record-${i}`);
  assert.equal(log.readMany(positions).length, 1000);
  assert.ok(fs.maxOpenFds <= SegmentLog.maxOpenFiles(4), `at most ${fs.maxOpenFds} files open`);
  assert.ok(log.openFiles <= 5);
  log.close();
  assert.equal(fs.openFds.size, 0, "close releases every descriptor");
  // Recovery opens one segment at a time too.
  const again = faultyFs();
  const reopened = new SegmentLog(dir, again, 128, { readHandles: 4 });
  let records = 0;
  reopened.open(() => records++);
  assert.equal(records, 1000);
  assert.ok(again.maxOpenFds <= 2, `recovery held ${again.maxOpenFds} files open`);
  reopened.close();
  rmSync(dir, { recursive: true });
});

test("a read that fails with EMFILE or EIO throws the file system's error, not a corruption", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 128, { readHandles: 2 });
  log.open(() => {});
  const positions: LogPosition[] = [];
  for (let i = 0; i < 20; i++)
    positions.push(log.append(1, [Buffer.from(`r-${i}-${"q".repeat(30)}`)]));
  log.flush();
  await durable(log);
  fs.openFault = "EMFILE";
  fs.openFaultFlags = "r";
  assert.throws(
    () => log.read(positions[0]!),
    (e: NodeJS.ErrnoException) => e.code === "EMFILE",
  );
  fs.openFault = undefined;
  fs.readFault = "EIO";
  assert.throws(
    () => log.readMany(positions.slice(0, 3)),
    (e: NodeJS.ErrnoException) => e.code === "EIO",
  );
  fs.readFault = undefined;
  assert.equal(log.read(positions[0]!).payload.toString().slice(0, 3), "r-0");
  log.close();
  rmSync(dir, { recursive: true });
});

test("a start on a full disk continues the last segment instead of failing", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 1 << 20);
  log.open(() => {});
  log.append(1, [Buffer.from("kept")]);
  log.flush();
  await durable(log);
  log.close();
  const fs = faultyFs();
  fs.openFault = "ENOSPC";
  fs.openFaultFlags = "w";
  const got: string[] = [];
  const restarted = new SegmentLog(dir, fs, 1 << 20, { retryMs: 0 });
  restarted.open((_t, p) => got.push(p.toString()));
  assert.deepEqual(got, ["kept"]);
  assert.ok(restarted.rotationError);
  const pos = restarted.append(1, [Buffer.from("appended to the old segment")]);
  restarted.flush();
  assert.equal(await durable(restarted), undefined);
  assert.equal(restarted.read(pos).payload.toString(), "appended to the old segment");
  restarted.close();
  assert.deepEqual(reopen(dir), ["1:kept", "1:appended to the old segment"]);
  rmSync(dir, { recursive: true });
});

test("a backlog held through a full disk is written a slice per flush, so no write stalls the event loop", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  let wakes = 0;
  const log = new SegmentLog(dir, fs, 64 * 1024 * 1024, { retryMs: 0, wake: () => wakes++ });
  log.open(() => {});
  fs.writeFault = "ENOSPC";
  const positions: LogPosition[] = [];
  const body = Buffer.alloc(256 * 1024, 7);
  for (let i = 0; i < 120; i++) {
    positions.push(log.append(1, [Buffer.from(`m${String(i).padStart(3, "0")}`), body]));
    log.flush();
  }
  assert.ok(log.unwrittenBytes > 3 * MAX_WRITE_BYTES, `${log.unwrittenBytes} bytes held`);
  fs.writeFault = undefined;
  const largest: number[] = [];
  const realWritev = fs.writevSync;
  fs.writevSync = (fd, buffers, position) => {
    largest.push(buffers.reduce((n, b) => n + b.length, 0));
    return realWritev(fd, buffers, position);
  };
  const confirmed = durable(log);
  let flushes = 0;
  while (log.unwrittenBytes > 0 && flushes < 100) {
    log.flush();
    flushes++;
  }
  assert.ok(flushes >= 3, `${flushes} slices`);
  assert.ok(Math.max(...largest) <= MAX_WRITE_BYTES, `largest write ${Math.max(...largest)} bytes`);
  assert.ok(wakes >= flushes - 1, "each slice asks for the next flush");
  assert.equal(
    await confirmed,
    undefined,
    "a waiter is confirmed once the whole backlog is written",
  );
  assert.deepEqual(
    positions.map((p) => log.read(p).payload.subarray(0, 4).toString()),
    positions.map((_, i) => `m${String(i).padStart(3, "0")}`),
  );
  log.close();
  assert.equal(reopen(dir, 64 * 1024 * 1024).length, 120);
  rmSync(dir, { recursive: true });
});
