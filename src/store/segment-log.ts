import type { Log } from "../log.js";
import {
  CorruptRecordError,
  type DamageVisitor,
  type Durable,
  errText,
  type LogPosition,
  type RecoveryReport,
  type Visitor,
} from "./log-position.js";
import { PendingRecords, unwritten } from "./pending-records.js";
import { ReadHandles } from "./read-handles.js";
import { frameRecord } from "./record-framing.js";
import { MESSAGE_LOG_FORMAT, type SegmentFormat, segmentPath } from "./segment-format.js";
import { type ReadRecord, type RecordLocator, readRecord, readRecords } from "./segment-reads.js";
import { recoverSegments } from "./segment-recovery.js";
import { anyRecordType, type Plausible } from "./segment-scan.js";
import type { StoreFs } from "./store-fs.js";

export {
  CorruptRecordError,
  type DamageVisitor,
  type Durable,
  errText,
  type LogPosition,
  type RecoveryReport,
  type SegmentDamage,
  type Visitor,
} from "./log-position.js";
export { RECORD_HEADER_BYTES } from "./record-framing.js";

/** A record to write: its type and payload. */
export interface LogRecord {
  readonly type: number;
  readonly payload: Uint8Array;
}

export interface SegmentLogOptions {
  /** The magic, file names and label of this log (the message log's by default). */
  readonly format?: SegmentFormat;
  /**
   * Records that open every segment this log starts (at start() and at each rotation),
   * written and synced with its magic: a checkpoint of the owner's state as of everything
   * appended so far, so that older segments can be deleted without losing what they
   * established.
   */
  readonly checkpoint?: () => readonly LogRecord[];
  /** Read descriptors kept open for finished segments (an LRU); the active one is extra. */
  readonly readHandles?: number;
  /** How long a failed write or segment rotation waits before it is tried again. */
  readonly retryMs?: number;
  readonly clock?: () => number;
  /** Cheap checks for a record found while resynchronising past damage at recovery. */
  readonly plausible?: Plausible;
  /** Asks for another flush soon (a backlog is written a slice per flush). */
  readonly wake?: () => void;
  readonly log?: Log;
}

/**
 * The most one write takes (whole records): a backlog held through a full disk is
 * written a slice a turn, so writing it never pauses the event loop for long.
 */
export const MAX_WRITE_BYTES = 8 * 1024 * 1024;

/** Read handles by default: with the active segment, 17 descriptors at most. */
export const DEFAULT_READ_HANDLES = 16;

interface Segment {
  readonly n: number;
  readonly path: string;
  /** Bytes written to the file (flushed), header included. */
  size: number;
}

/**
 * An append-only log in numbered segment files with a checksum per record and
 * group commit: appends collect in memory, flush() writes them with one vectored
 * write, and durability callbacks fire after the fdatasync that covers them (one
 * fdatasync in flight at a time; appends made meanwhile share the next one). The
 * durable message store and the Raft log store both keep their data in one.
 *
 * A write error (ENOSPC, EIO) fails that batch's callbacks but keeps its records:
 * they stay buffered (and readable) and are written again, at the offsets already
 * handed out, once a retry succeeds, so every position given away stays valid. A
 * segment that cannot be started (ENOSPC writing its magic, EMFILE opening it)
 * leaves the active segment growing until a retry succeeds. An fdatasync error
 * fails the log, since after a failed fsync the kernel may have dropped the dirty
 * pages (retrying could lie). Finished segments are read through a small cache of
 * descriptors, so open files stay bounded however many segments there are.
 */
export class SegmentLog {
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private activeFd = -1;
  /** Bytes at the start of the active segment that are not records appended to it: magic and checkpoint. */
  private activeStartBytes = 0;
  /** The checkpoint's share of those, which does not count towards the segment's size. */
  private checkpointBytes = 0;
  /** Records not yet in the file, in offset order from active.size. */
  private readonly pending = new PendingRecords();
  private pendingWaiters: Durable[] = [];
  private writtenWaiters: Durable[] = [];
  private syncing = false;
  private syncFd = -1;
  /** Old active descriptors to close once the fdatasync running on them returns. */
  private closeAfterSync: number[] = [];
  private readonly handles: ReadHandles;
  private readonly format: SegmentFormat;
  private readonly retryMs: number;
  private readonly clock: () => number;
  private retryAtMs = 0;
  /** Writes to the active segment, and how many of them a finished fdatasync covers. */
  private writes = 0;
  private syncedWrites = 0;
  /**
   * Whether a finished fdatasync covers the active segment's header (its magic and
   * checkpoint). Until it does, a crash may take the header with it, so an owner
   * deleting older segments keeps the one before the active segment.
   */
  activeStartDurable = false;
  /** The newest segment found by recover(), continued by start() if a new one cannot be made. */
  private lastRecovered: number | undefined;
  /** Set after an fdatasync failure: the log accepts no more durable writes. */
  failed: Error | undefined;
  /** The last write error, until a write succeeds again (ENOSPC clears when space returns). */
  writeError: Error | undefined;
  /** Why the next segment could not be started, until it is. */
  rotationError: Error | undefined;

  constructor(
    readonly dir: string,
    private readonly fs: StoreFs,
    readonly segmentBytes: number,
    private readonly options: SegmentLogOptions = {},
  ) {
    this.handles = new ReadHandles(fs, options.readHandles ?? DEFAULT_READ_HANDLES);
    this.format = options.format ?? MESSAGE_LOG_FORMAT;
    this.retryMs = options.retryMs ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  /** Descriptors this log may hold open at once: the read cache, the active segment, one being created. */
  static maxOpenFiles(readHandles = DEFAULT_READ_HANDLES): number {
    return readHandles + 2;
  }

  /** recover() then start(): scans what is there and starts a new active segment. */
  open(visit: Visitor, onDamage: DamageVisitor = () => {}): RecoveryReport {
    const report = this.recover(visit, onDamage);
    this.start();
    return report;
  }

  /**
   * Scans existing segments in order (verifying checksums, skipping damaged
   * records, cutting a torn tail off the last one); each file is open only while
   * it is scanned. Writes nothing else: an owner that finds the damage
   * unacceptable can stop here.
   */
  recover(visit: Visitor, onDamage: DamageVisitor = () => {}): RecoveryReport {
    this.fs.mkdirSync(this.dir);
    const { segments, report } = recoverSegments(
      this.fs,
      this.dir,
      this.format,
      this.options.plausible ?? anyRecordType,
      visit,
      onDamage,
    );
    for (const seg of segments) this.segments.set(seg.n, seg);
    this.lastRecovered = segments.at(-1)?.n;
    return report;
  }

  /**
   * Starts the active segment, after recover(). Each boot starts a new segment,
   * so a segment is never appended to after a crash. When that is impossible (a
   * full disk), the last one continues: its torn tail is cut off already, so it
   * ends on a whole record.
   */
  start(): void {
    const last = this.lastRecovered;
    try {
      const n = (last ?? 0) + 1;
      this.useActive(n, this.createSegment(n));
    } catch (e) {
      if (last === undefined) throw e;
      this.rotationError = e as Error;
      this.retryAtMs = this.clock() + this.retryMs;
      this.options.log?.error(
        { segment: last, err: errText(e) },
        `could not start a new ${this.format.label} segment (${errText(e)}); appending to segment ${last} until one can be started`,
      );
      const seg = this.segments.get(last)!;
      this.activeFd = this.fs.openSync(seg.path, "r+");
      this.active = seg;
      this.activeStartBytes = this.format.magic.length;
      this.checkpointBytes = 0;
      // Recovery synced it, header and all.
      this.activeStartDurable = true;
    }
  }

  /** Appends a record (buffered until flush); returns its position. */
  append(type: number, parts: readonly Uint8Array[]): LogPosition {
    const record = frameRecord(type, parts);
    const held = this.active.size + this.pending.bytes;
    // A segment takes at least one record after its checkpoint, so rotation always
    // progresses; a big checkpoint (many Raft groups) does not shrink its room for records.
    if (
      held + record.length - this.checkpointBytes > this.segmentBytes &&
      held > this.activeStartBytes
    )
      this.rotate();
    const offset = this.active.size + this.pending.bytes;
    this.pending.push(record, offset);
    return { segment: this.active.n, offset, length: record.length };
  }

  get hasPending(): boolean {
    return this.pending.bytes > 0;
  }

  /** Bytes of records appended but not in a file yet (held in memory while writes fail). */
  get unwrittenBytes(): number {
    return this.pending.bytes;
  }

  /** Descriptors open now: the active segment and the cached read handles. */
  get openFiles(): number {
    return this.handles.size + (this.activeFd >= 0 ? 1 : 0) + this.closeAfterSync.length;
  }

  /** Calls `cb` once everything appended so far is on disk (or failed to get there). */
  whenDurable(cb: Durable): void {
    if (this.failed) {
      cb(this.failed);
      return;
    }
    if (this.pending.bytes > 0) {
      this.pendingWaiters.push(cb);
      return;
    }
    this.writtenWaiters.push(cb);
    this.startSync();
  }

  /**
   * Writes the buffered records with one vectored write, then starts an
   * fdatasync; after a failed write, not before its retry is due. Also retries a
   * segment rotation that failed.
   */
  flush(): void {
    this.writePending();
    if (this.rotationError && this.clock() >= this.retryAtMs) this.rotate();
  }

  private writePending(): void {
    if (this.pending.bytes === 0) return;
    // While the disk refuses writes, try once per retry interval, not every turn:
    // each try copies everything held. Waiters wait for that try.
    if (this.writeError && this.clock() < this.retryAtMs) return;
    const { batch, count, bytes } = this.pending.nextBatch(MAX_WRITE_BYTES);
    let written = 0;
    let error: Error | undefined;
    try {
      // A short write (the disk filled mid-batch) is continued: the next call
      // either finishes or says why it cannot (ENOSPC).
      while (written < bytes) {
        const n = this.fs.writevSync(
          this.activeFd,
          written === 0 ? batch : unwritten(batch, written),
          this.active.size + written,
        );
        if (n <= 0)
          throw Object.assign(new Error(`short write: ${written} of ${bytes} bytes`), {
            code: "EIO",
          });
        written += n;
      }
    } catch (e) {
      error = e as Error;
    }
    if (!error) {
      this.written(count, bytes);
      if (this.writeError) this.writesResumed();
      if (this.pending.bytes > 0) {
        // A backlog (held through a full disk) goes out in slices, one a turn.
        this.options.wake?.();
        return;
      }
      this.writtenWaiters.push(...this.pendingWaiters);
      this.pendingWaiters = [];
      this.startSync();
      return;
    }
    this.writeFailed(error, written);
  }

  private writeFailed(error: Error, written: number): void {
    const waiters = this.pendingWaiters;
    this.pendingWaiters = [];
    const whole = this.pending.wholeRecordsIn(written);
    if (whole.count > 0) this.written(whole.count, whole.bytes);
    try {
      // Cut a partial record off so the file ends on a whole one; the retry
      // rewrites from there anyway, so a failure here loses nothing.
      this.fs.ftruncateSync(this.activeFd, this.active.size);
    } catch {}
    if (!this.writeError)
      this.options.log?.error(
        { segment: this.active.n, heldBytes: this.pending.bytes, err: errText(error) },
        `${this.format.label} write failed (${errText(error)}): ${this.pending.bytes} bytes of records are kept in memory and written again every ${this.retryMs} ms until it succeeds`,
      );
    this.writeError = error;
    this.retryAtMs = this.clock() + this.retryMs;
    for (const w of waiters) w(error);
  }

  private writesResumed(): void {
    this.options.log?.warn(
      { segment: this.active.n, err: errText(this.writeError) },
      `${this.format.label} writes succeed again (after ${errText(this.writeError)}); the records held in memory are written`,
    );
    this.writeError = undefined;
  }

  /** The first `count` pending records (`bytes` long) are in the file now. */
  private written(count: number, bytes: number): void {
    this.pending.written(count, bytes, this.active.size);
    this.active.size += bytes;
    this.writes++;
  }

  private startSync(): void {
    if (this.syncing || this.writtenWaiters.length === 0) return;
    this.syncing = true;
    this.syncFd = this.activeFd;
    const fd = this.activeFd;
    const covers = this.writes;
    const batch = this.writtenWaiters;
    this.writtenWaiters = [];
    this.fs.fdatasync(this.syncFd, (err) => {
      this.syncing = false;
      if (!err && fd === this.activeFd) {
        this.syncedWrites = Math.max(this.syncedWrites, covers);
        this.activeStartDurable = true;
      }
      for (const fd of this.closeAfterSync.splice(0)) this.closeQuietly(fd);
      if (err) this.failed = err;
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

  /**
   * Finishes the active segment (flushed and synced) and starts the next. When
   * the records cannot be written or the next file cannot be made, the active
   * segment simply grows past its size until a retry succeeds: a publish never
   * fails because a rotation did.
   */
  private rotate(): void {
    if ((this.writeError || this.rotationError) && this.clock() < this.retryAtMs) return;
    // A backlog is written a slice a turn by flush(), never from inside an append.
    if (this.pending.bytes > MAX_WRITE_BYTES) return;
    this.writePending();
    if (this.pending.bytes > 0) return;
    try {
      // Skipped when a finished fdatasync covers every write (a rotation after an idle spell).
      if (this.writes > this.syncedWrites) this.fs.fdatasyncSync(this.activeFd);
    } catch (e) {
      this.failSync(e as Error);
      return;
    }
    // Everything written so far is durable now.
    const done = this.writtenWaiters;
    this.writtenWaiters = [];
    for (const w of done) w(undefined);
    const label = this.format.label;
    let fd: number;
    try {
      fd = this.createSegment(this.active.n + 1);
    } catch (e) {
      if (!this.rotationError)
        this.options.log?.error(
          { segment: this.active.n, err: errText(e) },
          `could not start ${label} segment ${this.active.n + 1} (${errText(e)}); appending to segment ${this.active.n} and trying again every ${this.retryMs} ms`,
        );
      this.rotationError = e as Error;
      this.retryAtMs = this.clock() + this.retryMs;
      return;
    }
    if (this.rotationError) {
      this.options.log?.warn(
        { segment: this.active.n + 1, err: errText(this.rotationError) },
        `${label} segment ${this.active.n + 1} started (earlier attempts failed: ${errText(this.rotationError)})`,
      );
      this.rotationError = undefined;
    }
    const old = this.activeFd;
    this.useActive(this.active.n + 1, fd);
    if (this.syncing && this.syncFd === old) this.closeAfterSync.push(old);
    else this.closeQuietly(old);
  }

  private failSync(err: Error): void {
    this.failed = err;
    const waiters = this.writtenWaiters;
    this.writtenWaiters = [];
    for (const w of waiters) w(err);
  }

  /**
   * Creates segment `n` with its magic and the owner's checkpoint, and makes its
   * name durable; returns its descriptor. Leaves no half-made file. The header
   * becomes durable with the first fdatasync of the records after it (until then
   * a crash leaves at most a torn tail in the newest segment); activeStartDurable
   * says when it has.
   */
  private createSegment(n: number): number {
    const path = segmentPath(this.dir, n, this.format);
    const head = [this.format.magic];
    for (const { type, payload } of this.options.checkpoint?.() ?? [])
      head.push(frameRecord(type, [payload]));
    let bytes = 0;
    for (const b of head) bytes += b.length;
    const fd = this.fs.openSync(path, "w+");
    try {
      if (this.fs.writevSync(fd, head, 0) !== bytes)
        throw Object.assign(new Error("short write of the segment header"), { code: "EIO" });
      this.fs.fsyncDirSync(this.dir);
    } catch (e) {
      this.closeQuietly(fd);
      try {
        this.fs.unlinkSync(path);
      } catch {}
      throw e;
    }
    this.segments.set(n, { n, path, size: bytes });
    return fd;
  }

  private useActive(n: number, fd: number): void {
    this.active = this.segments.get(n)!;
    this.activeFd = fd;
    this.activeStartBytes = this.active.size;
    this.checkpointBytes = this.active.size - this.format.magic.length;
    this.writes = 0;
    this.syncedWrites = 0;
    this.activeStartDurable = false;
  }

  /**
   * Reads a record back (from memory if not yet written); checks its checksum.
   * Throws CorruptRecordError when it can never be read, or the file system's
   * error (EMFILE, EIO) when it cannot be read now.
   */
  read(pos: LogPosition): ReadRecord {
    return readRecord(this.fs, this.locator, pos);
  }

  /** Reads several records in order; adjacent ones in a file with one read (segment-reads.ts). */
  readMany(positions: readonly LogPosition[]): ReadRecord[] {
    return readRecords(this.fs, this.locator, positions);
  }

  private readonly locator: RecordLocator = {
    locate: (pos) => {
      if (pos.segment === this.active.n && pos.offset >= this.active.size) {
        const held = this.pending.at(pos.offset);
        if (!held) throw new CorruptRecordError(pos, "no record");
        return { held };
      }
      if (pos.segment === this.active.n) return { fd: this.activeFd };
      const seg = this.segments.get(pos.segment);
      if (!seg) throw new CorruptRecordError(pos, "segment file gone");
      return { fd: this.handles.get(seg.n, seg.path) };
    },
    inFile: (pos) =>
      this.segments.has(pos.segment) &&
      !(pos.segment === this.active.n && pos.offset + pos.length > this.active.size),
  };

  get activeSegment(): number {
    return this.active.n;
  }

  segmentNumbers(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  /** Bytes on disk across all segments (for status and metrics), plus those still to write. */
  get diskBytes(): number {
    let total = 0;
    for (const s of this.segments.values()) total += s.size;
    return total + this.pending.bytes;
  }

  /**
   * Deletes a finished segment file and makes the removal durable. Throws what
   * the file system throws; the segment is forgotten once its file is gone.
   */
  remove(n: number): void {
    const seg = this.segments.get(n);
    if (!seg || n === this.active.n) return;
    this.handles.close(n);
    this.fs.unlinkSync(seg.path);
    this.segments.delete(n);
    this.fs.fsyncDirSync(this.dir);
  }

  close(): void {
    this.retryAtMs = 0;
    for (let left = -1; this.pending.bytes > 0 && this.pending.bytes !== left; ) {
      left = this.pending.bytes;
      this.writePending();
    }
    this.release();
  }

  /**
   * Closes without writing what is still buffered, as a crash would: the
   * records not yet written are gone, and whoever waits for them is told so.
   */
  abandon(): void {
    const waiters = [...this.pendingWaiters, ...this.writtenWaiters];
    this.pendingWaiters = [];
    this.writtenWaiters = [];
    this.pending.clear();
    this.release();
    const err = new Error(`${this.format.label} abandoned before this write was durable`);
    for (const w of waiters) w(err);
  }

  private release(): void {
    this.handles.closeAll();
    for (const fd of [this.activeFd, ...this.closeAfterSync.splice(0)]) this.closeQuietly(fd);
    this.activeFd = -1;
    this.segments.clear();
  }

  private closeQuietly(fd: number): void {
    if (fd < 0) return;
    try {
      this.fs.closeSync(fd);
    } catch {
      // already closed
    }
  }
}
