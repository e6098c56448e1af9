/**
 * One group's latest snapshot in its own file, replaced atomically: write a temporary file,
 * fdatasync it, rename it over the old one, fsync the directory. The file is the magic
 * `WARRENS1` and one record in the shared framing (record-framing.ts) whose type is the mark
 * (1 install, 2 compact) and whose payload is
 *
 *   u64 index | u64 term | string membership (JSON) | bytes data
 *
 * so a torn or corrupt snapshot is detected, never half-read. Every file operation goes
 * through StoreFs, so tests can make it fail.
 */
import { join } from "node:path";
import type { Snapshot } from "../raft/types.js";
import { ByteReader, ByteWriter } from "./byte-codec.js";
import { decodeMembershipJson, encodeMembershipJson } from "./raft-wal-codec.js";
import { frameRecord, unframeRecord } from "./record-framing.js";
import type { StoreFs } from "./store-fs.js";

export type SnapshotFileMark = "install" | "compact";

export interface StoredSnapshot {
  readonly mark: SnapshotFileMark;
  readonly snapshot: Snapshot;
}

const MAGIC = Buffer.from("WARRENS1");
const SUFFIX = ".snap";
const MARK_CODES = { install: 1, compact: 2 } as const;
/** A big snapshot is written a slice at a time, yielding between slices, so no write stalls the event loop. */
const WRITE_SLICE_BYTES = 8 * 1024 * 1024;

/** Group ids are queue names: hex keeps any of them a safe file name. */
export function snapshotFileName(groupId: string): string {
  return `${Buffer.from(groupId, "utf8").toString("hex")}${SUFFIX}`;
}

function groupIdOf(fileName: string): string {
  return Buffer.from(fileName.slice(0, -SUFFIX.length), "hex").toString("utf8");
}

function encodeSnapshotFile(stored: StoredSnapshot): Buffer {
  const { meta, data } = stored.snapshot;
  const payload = new ByteWriter()
    .u64(meta.index)
    .u64(meta.term)
    .string(encodeMembershipJson(meta.membership))
    .bytes(data)
    .finish();
  return Buffer.concat([MAGIC, frameRecord(MARK_CODES[stored.mark], [payload])]);
}

function decodeSnapshotFile(name: string, bytes: Buffer): StoredSnapshot {
  const record = bytes.subarray(0, MAGIC.length).equals(MAGIC)
    ? unframeRecord(bytes.subarray(MAGIC.length))
    : undefined;
  const mark = record?.type === 1 ? "install" : record?.type === 2 ? "compact" : undefined;
  if (record === undefined || mark === undefined) {
    throw new Error(`snapshot file ${name} is damaged`);
  }
  const r = new ByteReader(record.payload);
  const index = r.u64();
  const term = r.u64();
  const membership = decodeMembershipJson(r.string());
  const data = new Uint8Array(r.bytes());
  return { mark, snapshot: { meta: { index, term, membership }, data } };
}

export async function writeSnapshotFile(
  fs: StoreFs,
  directory: string,
  groupId: string,
  stored: StoredSnapshot,
): Promise<void> {
  const bytes = encodeSnapshotFile(stored);
  const path = join(directory, snapshotFileName(groupId));
  const temporary = `${path}.tmp`;
  const fd = fs.openSync(temporary, "w");
  try {
    let written = 0;
    while (written < bytes.length) {
      if (written > 0) await new Promise((resolve) => setImmediate(resolve));
      const end = Math.min(bytes.length, written + WRITE_SLICE_BYTES);
      const n = fs.writevSync(fd, [bytes.subarray(written, end)], written);
      if (n <= 0) throw Object.assign(new Error("short write of a snapshot file"), { code: "EIO" });
      written += n;
    }
    await new Promise<void>((resolve, reject) =>
      fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())),
    );
  } catch (e) {
    closeQuietly(fs, fd);
    try {
      fs.unlinkSync(temporary);
    } catch {}
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(temporary, path);
  fs.fsyncDirSync(directory);
}

export function removeSnapshotFile(fs: StoreFs, directory: string, groupId: string): void {
  try {
    fs.unlinkSync(join(directory, snapshotFileName(groupId)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  fs.fsyncDirSync(directory);
}

/** Reads every group's snapshot; leftover temporary files (a crash mid-write) are removed. */
export function readSnapshotFiles(fs: StoreFs, directory: string): Map<string, StoredSnapshot> {
  const snapshots = new Map<string, StoredSnapshot>();
  for (const name of fs.readdirSync(directory)) {
    if (name.includes("/")) continue;
    if (name.endsWith(".tmp")) {
      fs.unlinkSync(join(directory, name));
      continue;
    }
    if (!name.endsWith(SUFFIX)) continue;
    snapshots.set(
      groupIdOf(name),
      decodeSnapshotFile(name, fs.readFileSync(join(directory, name))),
    );
  }
  return snapshots;
}

function closeQuietly(fs: StoreFs, fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {}
}
