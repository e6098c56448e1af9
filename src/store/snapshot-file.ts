/**
 * One group's latest snapshot in its own file, replaced atomically: write a temporary file,
 * fdatasync it, rename it over the old one, fsync the directory. The file is a single
 * checksummed record (record-framing.ts) holding
 *
 *   u8 mark (install or compact) | u64 index | u64 term | string membership | bytes data
 *
 * so a torn or corrupt snapshot is detected, never half-read.
 */
import { open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Snapshot } from "../raft/types.js";
import { ByteReader, ByteWriter } from "./byte-codec.js";
import { decodeMembershipJson, encodeMembershipJson } from "./raft-wal-codec.js";
import { frameRecord, scanRecords } from "./record-framing.js";
import { fsyncDirectory } from "./segment-file.js";

export type SnapshotFileMark = "install" | "compact";

export interface StoredSnapshot {
  readonly mark: SnapshotFileMark;
  readonly snapshot: Snapshot;
}

const SUFFIX = ".snap";

/** Group ids are queue names: hex keeps any of them a safe file name. */
export function snapshotFileName(groupId: string): string {
  return `${Buffer.from(groupId, "utf8").toString("hex")}${SUFFIX}`;
}

function groupIdOf(fileName: string): string {
  return Buffer.from(fileName.slice(0, -SUFFIX.length), "hex").toString("utf8");
}

export async function writeSnapshotFile(
  directory: string,
  groupId: string,
  stored: StoredSnapshot,
): Promise<void> {
  const { meta, data } = stored.snapshot;
  const payload = new ByteWriter()
    .u8(stored.mark === "install" ? 1 : 2)
    .u64(meta.index)
    .u64(meta.term)
    .string(encodeMembershipJson(meta.membership))
    .bytes(data)
    .finish();
  const path = join(directory, snapshotFileName(groupId));
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(frameRecord(payload));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await fsyncDirectory(directory);
}

export async function removeSnapshotFile(directory: string, groupId: string): Promise<void> {
  try {
    await unlink(join(directory, snapshotFileName(groupId)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  await fsyncDirectory(directory);
}

/** Reads every group's snapshot; leftover temporary files (a crash mid-write) are removed. */
export async function readSnapshotFiles(directory: string): Promise<Map<string, StoredSnapshot>> {
  const snapshots = new Map<string, StoredSnapshot>();
  for (const name of await readdir(directory)) {
    if (name.endsWith(".tmp")) {
      await unlink(join(directory, name));
      continue;
    }
    if (!name.endsWith(SUFFIX)) continue;
    const scan = scanRecords(await readFile(join(directory, name)));
    if (scan.damaged || scan.payloads.length !== 1) {
      throw new Error(`snapshot file ${name} is damaged`);
    }
    const r = new ByteReader(scan.payloads[0]);
    const mark: SnapshotFileMark = r.u8() === 1 ? "install" : "compact";
    const index = r.u64();
    const term = r.u64();
    const membership = decodeMembershipJson(r.string());
    const data = new Uint8Array(r.bytes());
    snapshots.set(groupIdOf(name), { mark, snapshot: { meta: { index, term, membership }, data } });
  }
  return snapshots;
}
