import { join } from "node:path";
import { crc32c } from "./crc32c.js";
import type { StoreFs } from "./store-fs.js";

/** Where a record lives: segment number, byte offset, and the record's whole length. */
export interface LogPosition {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

export interface RecoveryReport {
  segments: number;
  records: number;
  /** Bytes cut from the end of the last segment (a write torn by a crash). */
  truncatedBytes: number;
  /** Segments with a bad record before their end: everything after it was skipped. */
  corruptSegments: number[];
}

export type Visitor = (type: number, payload: Buffer, position: LogPosition) => void;
export type Durable = (err: Error | undefined) => void;

/** Every segment file starts with this; a format change gets a new magic. */
const MAGIC = Buffer.from("WARRENL1");
/** Record header: payload length (u32 LE), CRC-32C of length, type and payload (u32 LE), type (u8). */
export const RECORD_HEADER_BYTES = 9;
const SUFFIX = ".wlog";

interface Segment {
  readonly n: number;
  readonly path: string;
  fd: number;
  /** Bytes written to the file (flushed), header included. */
  size: number;
}

/**
 * An append-only log in numbered segment files with a checksum per record and
 * group commit: appends collect in memory, flush() writes them with one vectored
 * write, and durability callbacks fire after the fdatasync that covers them (one
 * fdatasync in flight at a time; appends made meanwhile share the next one).
 * A write error truncates the segment back to its last good length and fails that
 * batch's callbacks; an fdatasync error fails the log, since after a failed fsync
 * the kernel may have dropped the dirty pages (retrying could lie).
 */
export class SegmentLog {
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Unflushed records by offset in the active segment, so reads see them. */
  private pendingRecords = new Map<number, Buffer>();
  private pendingWaiters: Durable[] = [];
  private writtenWaiters: Durable[] = [];
  private syncing = false;
  /** Set after an fdatasync failure: the log accepts no more durable writes. */
  failed: Error | undefined;
  /** The last write error, until a later write is made durable (ENOSPC clears when space returns). */
  writeError: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly fs: StoreFs,
    readonly segmentBytes: number,
  ) {}

  /** Scans existing segments in order (verifying checksums), then starts a new active segment. */
  open(visit: Visitor): RecoveryReport {
    this.fs.mkdirSync(this.dir);
    const numbers = this.fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => Number.parseInt(f, 10))
      .filter((n) => Number.isFinite(n))
      .sort((a, b) => a - b);
    const report: RecoveryReport = {
      segments: numbers.length,
      records: 0,
      truncatedBytes: 0,
      corruptSegments: [],
    };
    numbers.forEach((n, i) => {
      const isLast = i === numbers.length - 1;
      const seg: Segment = {
        n,
        path: this.pathOf(n),
        fd: this.fs.openSync(this.pathOf(n), "r+"),
        size: 0,
      };
      this.segments.set(n, seg);
      const fileSize = this.fs.fstatSize(seg.fd);
      const data = Buffer.allocUnsafe(fileSize);
      this.readFully(seg.fd, data, 0);
      const good = this.scan(n, data, visit, report);
      seg.size = good;
      if (good < fileSize) {
        if (isLast) {
          // A torn tail: the crash cut the last write short. Nothing past it was ever synced.
          this.fs.ftruncateSync(seg.fd, good);
          this.fs.fdatasyncSync(seg.fd);
          report.truncatedBytes += fileSize - good;
        } else {
          report.corruptSegments.push(n);
        }
      }
    });
    const next = numbers.length > 0 ? numbers[numbers.length - 1]! + 1 : 1;
    this.active = this.createSegment(next);
    return report;
  }

  /** Returns the byte offset where valid records end. */
  private scan(n: number, data: Buffer, visit: Visitor, report: RecoveryReport): number {
    if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) return 0;
    let at = MAGIC.length;
    while (at + RECORD_HEADER_BYTES <= data.length) {
      const len = data.readUInt32LE(at);
      const end = at + RECORD_HEADER_BYTES + len;
      if (end > data.length) break;
      const crc = crc32c(data, crc32c(data, 0, at, at + 4), at + 8, end);
      if (crc !== data.readUInt32LE(at + 4)) break;
      visit(data[at + 8]!, data.subarray(at + RECORD_HEADER_BYTES, end), {
        segment: n,
        offset: at,
        length: end - at,
      });
      report.records++;
      at = end;
    }
    return at;
  }

  /** Appends a record (buffered until flush); returns its position. */
  append(type: number, parts: readonly Buffer[]): LogPosition {
    let len = 0;
    for (const p of parts) len += p.length;
    const total = RECORD_HEADER_BYTES + len;
    if (
      this.active.size + this.pendingBytes + total > this.segmentBytes &&
      this.active.size + this.pendingBytes > MAGIC.length
    ) {
      this.rotate();
    }
    const record = Buffer.allocUnsafe(total);
    record.writeUInt32LE(len, 0);
    record[8] = type;
    let at = RECORD_HEADER_BYTES;
    for (const p of parts) {
      p.copy(record, at);
      at += p.length;
    }
    record.writeUInt32LE(crc32c(record, crc32c(record, 0, 0, 4), 8, total), 4);
    const offset = this.active.size + this.pendingBytes;
    this.pending.push(record);
    this.pendingBytes += total;
    this.pendingRecords.set(offset, record);
    return { segment: this.active.n, offset, length: total };
  }

  get hasPending(): boolean {
    return this.pendingBytes > 0;
  }

  /** Calls `cb` once everything appended so far is on disk (or failed to get there). */
  whenDurable(cb: Durable): void {
    if (this.failed) {
      cb(this.failed);
      return;
    }
    if (this.pendingBytes > 0) {
      this.pendingWaiters.push(cb);
      return;
    }
    this.writtenWaiters.push(cb);
    this.startSync();
  }

  /** Writes the buffered records with one vectored write, then starts an fdatasync. */
  flush(): void {
    if (this.pendingBytes === 0) return;
    const seg = this.active;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    const waiters = this.pendingWaiters;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRecords = new Map();
    this.pendingWaiters = [];
    try {
      const written = this.fs.writevSync(seg.fd, buffers, seg.size);
      if (written !== bytes)
        throw Object.assign(new Error(`short write: ${written} of ${bytes} bytes`), {
          code: "EIO",
        });
      seg.size += bytes;
    } catch (e) {
      // Cut the partial write off so the segment ends on a whole record.
      try {
        this.fs.ftruncateSync(seg.fd, seg.size);
      } catch (te) {
        this.failed = te as Error;
      }
      this.writeError = e as Error;
      for (const w of waiters) w(e as Error);
      return;
    }
    this.writtenWaiters.push(...waiters);
    this.startSync();
  }

  private startSync(): void {
    if (this.syncing || this.writtenWaiters.length === 0) return;
    this.syncing = true;
    const batch = this.writtenWaiters;
    this.writtenWaiters = [];
    this.fs.fdatasync(this.active.fd, (err) => {
      this.syncing = false;
      if (err) this.failed = err;
      else this.writeError = undefined;
      for (const w of batch) w(err ?? undefined);
      if (this.failed) {
        const rest = this.writtenWaiters;
        this.writtenWaiters = [];
        for (const w of rest) w(this.failed);
      } else {
        this.startSync();
      }
    });
  }

  /** Finishes the active segment (flushed and synced) and starts the next. */
  private rotate(): void {
    this.flush();
    this.fs.fdatasyncSync(this.active.fd);
    // Everything written so far is durable now.
    const done = this.writtenWaiters;
    this.writtenWaiters = [];
    for (const w of done) w(undefined);
    this.active = this.createSegment(this.active.n + 1);
  }

  private createSegment(n: number): Segment {
    const path = this.pathOf(n);
    const fd = this.fs.openSync(path, "w+");
    this.fs.writevSync(fd, [MAGIC], 0);
    this.fs.fdatasyncSync(fd);
    this.fs.fsyncDirSync(this.dir);
    const seg: Segment = { n, path, fd, size: MAGIC.length };
    this.segments.set(n, seg);
    return seg;
  }

  /** Reads a record back (from memory if not yet flushed); checks its checksum. */
  read(pos: LogPosition): { type: number; payload: Buffer } {
    let record: Buffer | undefined;
    if (pos.segment === this.active.n && pos.offset >= this.active.size) {
      record = this.pendingRecords.get(pos.offset);
    } else {
      const seg = this.segments.get(pos.segment);
      if (seg) {
        record = Buffer.allocUnsafe(pos.length);
        this.readFully(seg.fd, record, pos.offset);
      }
    }
    if (!record) throw new Error(`no record at segment ${pos.segment} offset ${pos.offset}`);
    return this.checkRecord(record, pos);
  }

  private checkRecord(record: Buffer, pos: LogPosition): { type: number; payload: Buffer } {
    const len = record.readUInt32LE(0);
    const crc = crc32c(record, crc32c(record, 0, 0, 4), 8, record.length);
    if (len + RECORD_HEADER_BYTES !== record.length || crc !== record.readUInt32LE(4)) {
      throw new Error(`checksum mismatch in segment ${pos.segment} at offset ${pos.offset}`);
    }
    return { type: record[8]!, payload: record.subarray(RECORD_HEADER_BYTES) };
  }

  /**
   * Reads several records in order. Records that sit next to each other in one
   * segment (a queue's page-outs usually do) are fetched with a single read of up
   * to 1 MiB, then each is checked by its CRC.
   */
  readMany(positions: readonly LogPosition[]): { type: number; payload: Buffer }[] {
    const out: { type: number; payload: Buffer }[] = [];
    let i = 0;
    while (i < positions.length) {
      const first = positions[i]!;
      const seg = this.segments.get(first.segment);
      const flushed =
        seg !== undefined &&
        !(first.segment === this.active.n && first.offset + first.length > this.active.size);
      let j = i + 1;
      let end = first.offset + first.length;
      while (
        flushed &&
        j < positions.length &&
        positions[j]!.segment === first.segment &&
        positions[j]!.offset === end &&
        end + positions[j]!.length - first.offset <= 1024 * 1024 &&
        !(first.segment === this.active.n && end + positions[j]!.length > this.active.size)
      ) {
        end += positions[j]!.length;
        j++;
      }
      if (j === i + 1) {
        out.push(this.read(first));
      } else {
        const run = Buffer.allocUnsafe(end - first.offset);
        this.readFully(seg!.fd, run, first.offset);
        for (let k = i; k < j; k++) {
          const p = positions[k]!;
          out.push(
            this.checkRecord(
              run.subarray(p.offset - first.offset, p.offset - first.offset + p.length),
              p,
            ),
          );
        }
      }
      i = j;
    }
    return out;
  }

  private readFully(fd: number, buf: Buffer, position: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = this.fs.readSync(fd, buf, done, buf.length - done, position + done);
      if (n === 0) throw new Error(`unexpected end of file at ${position + done}`);
      done += n;
    }
  }

  get activeSegment(): number {
    return this.active.n;
  }

  segmentNumbers(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  /** Bytes on disk across all segments (for status and metrics). */
  get diskBytes(): number {
    let total = 0;
    for (const s of this.segments.values()) total += s.size;
    return total + this.pendingBytes;
  }

  /** Deletes a finished segment file and makes the removal durable. */
  remove(n: number): void {
    const seg = this.segments.get(n);
    if (!seg || n === this.active.n) return;
    this.fs.closeSync(seg.fd);
    this.fs.unlinkSync(seg.path);
    this.fs.fsyncDirSync(this.dir);
    this.segments.delete(n);
  }

  close(): void {
    this.flush();
    for (const s of this.segments.values()) {
      try {
        this.fs.closeSync(s.fd);
      } catch {
        // already closed
      }
    }
    this.segments.clear();
  }

  private pathOf(n: number): string {
    return join(this.dir, `${String(n).padStart(12, "0")}${SUFFIX}`);
  }
}
