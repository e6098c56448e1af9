/**
 * One append-only file of checksummed records (record-framing.ts). Writes go out with one
 * writev per batch and become durable with fdatasync; creating or deleting the file also
 * fsyncs its directory, or the file itself could vanish in a crash (ext4 and XFS both need
 * the directory entry synced; see fsync(2), "Calling fsync() does not necessarily ensure that
 * the entry in the directory containing the file has also reached disk").
 */
import type { FileHandle } from "node:fs/promises";
import { open, readFile, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { ScanResult } from "./record-framing.js";
import { frameRecord, scanRecords } from "./record-framing.js";

export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class SegmentFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private sizeBytes: number,
  ) {}

  /** Creates an empty segment; fails if the file exists. */
  static async create(path: string): Promise<SegmentFile> {
    const handle = await open(path, "wx+");
    await fsyncDirectory(dirname(path));
    return new SegmentFile(path, handle, 0);
  }

  /**
   * Opens an existing segment for appending after validEndBytes, cutting off anything after
   * it (a torn last write).
   */
  static async reopen(path: string, validEndBytes: number): Promise<SegmentFile> {
    const handle = await open(path, "r+");
    const { size } = await handle.stat();
    if (size > validEndBytes) {
      await handle.truncate(validEndBytes);
      await handle.datasync();
    }
    return new SegmentFile(path, handle, validEndBytes);
  }

  /** Reads every valid record of a segment file. */
  static async scan(path: string): Promise<ScanResult> {
    return scanRecords(await readFile(path));
  }

  size(): number {
    return this.sizeBytes;
  }

  /** Appends framed records with one writev; not durable until sync(). */
  async append(payloads: readonly Uint8Array[]): Promise<void> {
    if (payloads.length === 0) return;
    const buffers = payloads.map(frameRecord);
    let remaining = buffers;
    let position = this.sizeBytes;
    while (remaining.length > 0) {
      const { bytesWritten } = await this.handle.writev(remaining, position);
      position += bytesWritten;
      remaining = dropWritten(remaining, bytesWritten);
    }
    this.sizeBytes = position;
  }

  /** fdatasync: the data and the size are durable; timestamps need not be. */
  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** Deletes a (closed) segment file and makes the deletion durable. */
  static async remove(path: string): Promise<void> {
    await unlink(path);
    await fsyncDirectory(dirname(path));
  }
}

/** What is left to write after a short writev. */
function dropWritten(buffers: Buffer[], bytesWritten: number): Buffer[] {
  let skip = bytesWritten;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index].length) {
    skip -= buffers[index].length;
    index++;
  }
  const rest = buffers.slice(index);
  if (rest.length > 0 && skip > 0) rest[0] = rest[0].subarray(skip);
  return rest;
}
