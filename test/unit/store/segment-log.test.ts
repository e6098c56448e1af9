import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { crc32c } from "../../../src/store/crc32c.js";
import { SegmentLog } from "../../../src/store/segment-log.js";
import { nodeFs } from "../../../src/store/store-fs.js";
import { faultyFs } from "../../support/faulty-fs.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "warren-log-"));
}

function collect(log: SegmentLog) {
  const got: string[] = [];
  const report = log.open((type, payload) => got.push(`${type}:${payload.toString()}`));
  return { got, report };
}

function durable(log: SegmentLog): Promise<Error | undefined> {
  return new Promise((resolve) => log.whenDurable(resolve));
}

test("records survive a reopen in order, each checked by its CRC", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 1 << 20);
  collect(log);
  for (let i = 0; i < 10; i++) log.append(i % 3, [Buffer.from(`rec${i}`)]);
  log.flush();
  assert.equal(await durable(log), undefined);
  log.close();
  const { got, report } = collect(new SegmentLog(dir, nodeFs, 1 << 20));
  assert.deepEqual(
    got,
    Array.from({ length: 10 }, (_, i) => `${i % 3}:rec${i}`),
  );
  assert.equal(report.truncatedBytes, 0);
  rmSync(dir, { recursive: true });
});

test("a torn last record is cut off at recovery and everything before it survives", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 1 << 20);
  collect(log);
  log.append(1, [Buffer.from("kept")]);
  log.append(1, [Buffer.from("torn-record-payload")]);
  log.flush();
  await durable(log);
  log.close();
  const file = join(dir, readdirSync(dir).sort().at(-1)!);
  const full = readFileSync(file);
  writeFileSync(file, full.subarray(0, full.length - 5)); // the crash cut the last write short
  const { got, report } = collect(new SegmentLog(dir, nodeFs, 1 << 20));
  assert.deepEqual(got, ["1:kept"]);
  assert.equal(report.truncatedBytes, 9 + "torn-record-payload".length - 5);
  assert.equal(
    statSync(file).size,
    full.length - (9 + "torn-record-payload".length),
    "the file was truncated",
  );
  rmSync(dir, { recursive: true });
});

test("garbage after the last record is truncated (zeros from a torn page)", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 1 << 20);
  collect(log);
  log.append(1, [Buffer.from("a")]);
  log.flush();
  await durable(log);
  log.close();
  const file = join(dir, readdirSync(dir).sort().at(-1)!);
  appendFileSync(file, Buffer.alloc(4096));
  const { got, report } = collect(new SegmentLog(dir, nodeFs, 1 << 20));
  assert.deepEqual(got, ["1:a"]);
  assert.equal(report.truncatedBytes, 4096);
  rmSync(dir, { recursive: true });
});

test("a flipped bit in an earlier segment is detected, not delivered", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 64);
  collect(log);
  for (let i = 0; i < 6; i++) log.append(1, [Buffer.from(`payload-${i}-xxxxxxxxxxxxxxxx`)]);
  log.flush();
  await durable(log);
  log.close();
  const files = readdirSync(dir).sort();
  assert.ok(files.length >= 3);
  const first = join(dir, files[0]!);
  const bytes = readFileSync(first);
  bytes[bytes.length - 3] ^= 0x40;
  writeFileSync(first, bytes);
  const { got, report } = collect(new SegmentLog(dir, nodeFs, 64));
  assert.ok(!got.some((g) => g.includes("payload-0")), "the corrupt record is not delivered");
  assert.deepEqual(report.corruptSegments, [Number.parseInt(files[0]!, 10)]);
  rmSync(dir, { recursive: true });
});

test("an fdatasync error fails the log: no later write is reported durable", async () => {
  const dir = tempDir();
  const fs = faultyFs();
  const log = new SegmentLog(dir, fs, 1 << 20);
  collect(log);
  fs.syncFault = "EIO";
  log.append(1, [Buffer.from("x")]);
  log.flush();
  assert.match(String((await durable(log))?.message), /EIO/);
  fs.syncFault = undefined;
  log.append(1, [Buffer.from("y")]);
  log.flush();
  assert.match(String((await durable(log))?.message), /EIO/);
  assert.ok(log.failed);
  log.close();
  rmSync(dir, { recursive: true });
});

test("reading many records at once gives what reading them one by one gives, flushed or not", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 4096);
  collect(log);
  const positions = [];
  for (let i = 0; i < 60; i++)
    positions.push(log.append(1 + (i % 3), [Buffer.from(`record-${i}-${"x".repeat(i * 3)}`)]));
  log.flush();
  for (let i = 60; i < 70; i++) positions.push(log.append(1, [Buffer.from(`pending-${i}`)]));
  // Adjacent runs, gaps, a segment boundary and unflushed records, in order.
  const picks = [
    ...positions.slice(0, 25),
    ...positions.slice(30, 45),
    positions[50]!,
    ...positions.slice(58, 70),
  ];
  assert.deepEqual(
    log.readMany(picks),
    picks.map((p) => log.read(p)),
  );
  log.flush();
  await durable(log);
  log.close();
  rmSync(dir, { recursive: true });
});

test("every segment opens with the owner's checkpoint, and recovery visits it first", async () => {
  const dir = tempDir();
  let checkpoints = 0;
  const checkpoint = () => [{ type: 9, payload: Buffer.from(`checkpoint-${++checkpoints}`) }];
  const log = new SegmentLog(dir, nodeFs, 96, { checkpoint });
  collect(log);
  for (let i = 0; i < 12; i++) log.append(1, [Buffer.from(`record-${i}-${"x".repeat(20)}`)]);
  log.flush();
  await durable(log);
  log.close();
  const perSegment = new Map<number, string[]>();
  new SegmentLog(dir, nodeFs, 96).open((type, payload, pos) => {
    const list = perSegment.get(pos.segment) ?? [];
    list.push(`${type}:${payload.toString().slice(0, 13)}`);
    perSegment.set(pos.segment, list);
  });
  assert.ok(perSegment.size >= 4, `${perSegment.size} segments`);
  let n = 0;
  for (const records of perSegment.values()) {
    n++;
    assert.equal(records[0], `9:checkpoint-${n}`, "the checkpoint comes first");
    assert.ok(records.length >= 2, "and at least one record after it");
    assert.ok(records.slice(1).every((r) => r.startsWith("1:record")));
  }
  rmSync(dir, { recursive: true });
});

test("abandon drops the records not yet written and tells whoever waits for them", async () => {
  const dir = tempDir();
  const log = new SegmentLog(dir, nodeFs, 1 << 20);
  collect(log);
  log.append(1, [Buffer.from("written")]);
  log.flush();
  assert.equal(await durable(log), undefined);
  log.append(1, [Buffer.from("never-written")]);
  const waiting = durable(log);
  log.abandon();
  assert.match(String((await waiting)?.message), /abandoned/);
  assert.deepEqual(collect(new SegmentLog(dir, nodeFs, 1 << 20)).got, ["1:written"]);
  rmSync(dir, { recursive: true });
});

test("regression: recovery syncs the last segment before it starts a newer one", async () => {
  // A killed process leaves written but unsynced records in the page cache, where recovery
  // finds them. Were a newer segment made durable first, a power loss could then tear the
  // older one: damage in a segment that is not the last, reported as corruption (the Raft
  // log refuses to open on it).
  const dir = tempDir();
  const first = new SegmentLog(dir, nodeFs, 1 << 20);
  collect(first);
  first.append(1, [Buffer.from("in the page cache only")]);
  first.flush();
  first.close(); // as a kill would: no fdatasync waited for
  const fs = faultyFs();
  const events: string[] = [];
  const openSync = fs.openSync;
  fs.openSync = (path, flags) => {
    const fd = openSync(path, flags);
    events.push(`open ${path.slice(-17)} ${flags} -> ${fd}`);
    return fd;
  };
  fs.fdatasyncSync = (fd) => {
    events.push(`fdatasync ${fd}`);
    nodeFs.fdatasyncSync(fd);
  };
  collect(new SegmentLog(dir, fs, 1 << 20));
  const lastOpen = events.findIndex((e) => e.startsWith("open 000000000001.wlog"));
  const lastFd = events[lastOpen]!.split(" -> ")[1];
  const newer = events.findIndex((e) => e.startsWith("open 000000000002.wlog"));
  const synced = events.indexOf(`fdatasync ${lastFd}`, lastOpen);
  assert.ok(synced > lastOpen && synced < newer, events.join("\n"));
  rmSync(dir, { recursive: true });
});

test("a message log segment in the WARRENL1 format of earlier versions reads back unchanged", () => {
  // Built by hand from docs/ARCHITECTURE.md ("What is on disk"), not with the writer: a
  // data directory written by an earlier Warren must recover as it did.
  const record = (type: number, text: string) => {
    const payload = Buffer.from(text);
    const head = Buffer.alloc(9);
    head.writeUInt32LE(payload.length, 0);
    head[8] = type;
    const all = Buffer.concat([head, payload]);
    all.writeUInt32LE(crc32c(all, crc32c(all, 0, 0, 4), 8, all.length), 4);
    return all;
  };
  const dir = tempDir();
  writeFileSync(
    join(dir, "000000000007.wlog"),
    Buffer.concat([Buffer.from("WARRENL1"), record(1, "publish"), record(2, "settle")]),
  );
  const { got, report } = collect(new SegmentLog(dir, nodeFs, 1 << 20));
  assert.deepEqual(got, ["1:publish", "2:settle"]);
  assert.deepEqual([report.segments, report.records, report.truncatedBytes], [1, 2, 0]);
  assert.deepEqual(readdirSync(dir).sort(), ["000000000007.wlog", "000000000008.wlog"]);
  rmSync(dir, { recursive: true });
});
