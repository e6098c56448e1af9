import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type LogPosition, SegmentLog } from "../../../src/store/segment-log.js";
import { nodeFs } from "../../../src/store/store-fs.js";

const SEGMENT_BYTES = 400;

/** Writes `count` records over several small segments; returns where each went. */
async function writeLog(count: number): Promise<{ dir: string; positions: LogPosition[] }> {
  const dir = mkdtempSync(join(tmpdir(), "warren-log-recovery-"));
  const log = new SegmentLog(dir, nodeFs, SEGMENT_BYTES);
  log.open(() => {});
  const positions: LogPosition[] = [];
  for (let i = 0; i < count; i++)
    positions.push(log.append(1 + (i % 3), [Buffer.from(`record-${i}-${"p".repeat(40)}`)]));
  log.flush();
  await new Promise((resolve) => log.whenDurable(resolve));
  log.close();
  return { dir, positions };
}

function file(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(12, "0")}.wlog`);
}

function damage(dir: string, segment: number, edit: (b: Buffer) => Buffer): void {
  const path = file(dir, segment);
  writeFileSync(path, edit(readFileSync(path)));
}

function recover(dir: string) {
  const got: number[] = [];
  const log = new SegmentLog(dir, nodeFs, SEGMENT_BYTES);
  const report = log.open((_type, payload) => got.push(Number(payload.toString().split("-")[1])));
  log.close();
  return { got, report };
}

const allBut = (count: number, ...lost: number[]) =>
  Array.from({ length: count }, (_, i) => i).filter((i) => !lost.includes(i));

test("a flipped byte in a middle record of a middle segment loses exactly that record", async () => {
  const { dir, positions } = await writeLog(40);
  const segments = [...new Set(positions.map((p) => p.segment))];
  assert.ok(segments.length >= 4, `${segments.length} segments`);
  const middle = segments[Math.floor(segments.length / 2)]!;
  const inMiddle = positions.map((p, i) => ({ p, i })).filter(({ p }) => p.segment === middle);
  const victim = inMiddle[1]!; // neither the first nor the last record of its segment
  assert.ok(inMiddle.length >= 3);
  damage(dir, middle, (b) => {
    b[victim.p.offset + 20] ^= 0x01;
    return b;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, victim.i), "every record before and after it is recovered");
  assert.deepEqual(report.corruptSegments, [middle]);
  assert.equal(report.damaged.length, 1);
  assert.equal(report.damaged[0]!.offset, victim.p.offset);
  assert.equal(report.damaged[0]!.bytes, victim.p.length);
  assert.equal(report.skippedBytes, victim.p.length);
  rmSync(dir, { recursive: true });
});

test("a flipped byte in a middle record of the last segment is corruption, not a torn tail: the records after it survive", async () => {
  const { dir, positions } = await writeLog(40);
  const last = positions.at(-1)!.segment;
  const inLast = positions.map((p, i) => ({ p, i })).filter(({ p }) => p.segment === last);
  assert.ok(inLast.length >= 3, `${inLast.length} records in the last segment`);
  const victim = inLast[1]!;
  const sizeBefore = statSync(file(dir, last)).size;
  damage(dir, last, (b) => {
    b[victim.p.offset + victim.p.length - 2] ^= 0x80;
    return b;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, victim.i));
  assert.equal(report.truncatedBytes, 0, "nothing was truncated away");
  assert.equal(statSync(file(dir, last)).size, sizeBefore);
  assert.deepEqual(report.corruptSegments, [last]);
  rmSync(dir, { recursive: true });
});

test("a damaged length field costs that record only: the scan finds the next valid record", async () => {
  const { dir, positions } = await writeLog(40);
  const victim = positions[12]!;
  const next = positions[13]!;
  assert.equal(victim.segment, next.segment, "the next record is in the same segment");
  damage(dir, victim.segment, (b) => {
    b.writeUInt32LE(0x00ffffff, victim.offset); // a length far past the file's end
    return b;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, 12));
  assert.equal(report.damaged[0]!.bytes, victim.length);
  rmSync(dir, { recursive: true });
});

test("a zeroed page in the middle of the last segment is skipped and the records after it kept", async () => {
  const { dir, positions } = await writeLog(40);
  const last = positions.at(-1)!.segment;
  const inLast = positions.map((p, i) => ({ p, i })).filter(({ p }) => p.segment === last);
  const [a, b] = [inLast[0]!, inLast[1]!];
  damage(dir, last, (buf) => {
    buf.fill(0, a.p.offset, b.p.offset + b.p.length);
    return buf;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, a.i, b.i));
  assert.equal(report.damaged.length, 1);
  assert.equal(report.damaged[0]!.bytes, a.p.length + b.p.length);
  rmSync(dir, { recursive: true });
});

test("a truncated last segment still loses only the torn tail", async () => {
  const { dir, positions } = await writeLog(40);
  const lastPos = positions.at(-1)!;
  damage(dir, lastPos.segment, (b) => b.subarray(0, lastPos.offset + 5));
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, 39));
  assert.equal(report.truncatedBytes, 5);
  assert.deepEqual(report.damaged, [], "a torn tail is not reported as damage");
  assert.equal(statSync(file(dir, lastPos.segment)).size, lastPos.offset);
  rmSync(dir, { recursive: true });
});

test("a bad last record with nothing valid after it is a torn write: truncated, not damage", async () => {
  const { dir, positions } = await writeLog(40);
  const lastPos = positions.at(-1)!;
  damage(dir, lastPos.segment, (b) => {
    b[lastPos.offset + 15] ^= 0x10;
    return b;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40, 39));
  assert.equal(report.truncatedBytes, lastPos.length);
  assert.deepEqual(report.damaged, []);
  rmSync(dir, { recursive: true });
});

test("a damaged segment header loses no record", async () => {
  const { dir, positions } = await writeLog(40);
  const middle = positions[20]!.segment;
  damage(dir, middle, (b) => {
    b[3] ^= 0xff;
    return b;
  });
  const { got, report } = recover(dir);
  assert.deepEqual(got, allBut(40));
  assert.deepEqual(report.corruptSegments, [middle]);
  assert.equal(report.skippedBytes, 8);
  rmSync(dir, { recursive: true });
});
