import type { Log } from "../log.js";
import { ColdIndex } from "../message/cold-index.js";
import type { Message } from "../message/message.js";
import {
  decodeMessage,
  decodePublishHeader,
  encodeDelivered,
  encodePublish,
  encodeSettle,
  publishDetails,
  RecordType,
} from "./message-records.js";
import {
  type DurableCallback,
  type MessageStore,
  noDamage,
  type RecoveredQueue,
  type RecoveryAccounting,
  recordDamage,
  type StoreDamage,
  type StoreRecovery,
  type UnclaimedMessages,
  unaccountedFor,
} from "./message-store.js";
import { RecoveringQueue } from "./recovering-queue.js";
import { plausibleMessageRecord, RecoveryDamage } from "./recovery-damage.js";
import {
  CorruptRecordError,
  DEFAULT_READ_HANDLES,
  errText,
  type LogPosition,
  SegmentLog,
} from "./segment-log.js";
import type { StoreFs } from "./store-fs.js";

export interface FileStoreOptions {
  readonly dir: string;
  readonly fs: StoreFs;
  /** Segment size; a segment is deleted once nothing in it is needed. */
  readonly segmentBytes?: number;
  /** Called after records were appended in a turn, so the owner can flush them soon. */
  readonly scheduleFlush?: () => void;
  /** Read descriptors kept open for finished segments (default 16). */
  readonly readHandles?: number;
  /** How long a failed write, rotation or segment deletion waits before it is tried again. */
  readonly retryMs?: number;
  readonly clock?: () => number;
  /** Where write failures, retries and damage found on read are reported. */
  readonly log?: Log;
}

/**
 * The durable message store: one segment log shared by every queue (as RabbitMQ
 * shares one message store), group-committed. Each segment counts the queue
 * claims on the messages it holds; a segment with none left is deleted once no
 * later settle or delivery record depends on it, so no record ever refers to a
 * deleted message whose settlement could be forgotten.
 */
export class FileMessageStore implements MessageStore {
  private readonly log: SegmentLog;
  /** Open claims (queue, message) per segment. */
  private readonly live = new Map<number, number>();
  /** Per segment: older segments that its settle/delivery records refer to. */
  private readonly pins = new Map<number, Set<number>>();
  private flushScheduled = false;
  private recovered = false;
  readonly damage: StoreDamage = noDamage();
  /** Records found unreadable on read ("segment:offset"), so each is counted once. */
  private readonly unreadable = new Set<string>();
  /** Set while a segment deletion fails (EMFILE, EIO); reclaiming is retried after it. */
  private reclaimError: Error | undefined;
  private reclaimRetryAtMs = 0;
  private readonly clock: () => number;

  constructor(private readonly options: FileStoreOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = new SegmentLog(options.dir, options.fs, options.segmentBytes ?? 64 * 1024 * 1024, {
      readHandles: options.readHandles,
      retryMs: options.retryMs,
      clock: this.clock,
      plausible: plausibleMessageRecord,
      log: options.log,
      wake: () => this.scheduleFlush(),
    });
  }

  /** Descriptors the store may hold open at once (for the resource monitor's reserve). */
  static maxOpenFiles(readHandles = DEFAULT_READ_HANDLES): number {
    // The segment log's, plus the data directory opened briefly to fsync it.
    return SegmentLog.maxOpenFiles(readHandles) + 1;
  }

  recover(durableQueueIds: ReadonlySet<number>, accounting?: RecoveryAccounting): StoreRecovery {
    if (this.recovered) throw new Error("recover() runs once");
    this.recovered = true;
    const started = performance.now();
    const queues = new Map<number, RecoveringQueue>();
    for (const id of durableQueueIds) queues.set(id, new RecoveringQueue());
    /** Queues the definitions cannot account for: their messages are kept, not handed out. */
    const unclaimed = new Map<number, RecoveringQueue>();
    const queueOf = (qid: number): RecoveringQueue | undefined => {
      const q = queues.get(qid) ?? unclaimed.get(qid);
      if (q || !unaccountedFor(qid, durableQueueIds, accounting)) return q;
      const fresh = new RecoveringQueue();
      unclaimed.set(qid, fresh);
      return fresh;
    };
    let maxMessageId = 0;
    let maxQueueId = 0;
    const damaged = new RecoveryDamage(queues);
    const visit = (type: number, payload: Buffer, pos: LogPosition) => {
      if (type === RecordType.Publish) {
        const h = decodePublishHeader(payload);
        if (h.msgId > maxMessageId) maxMessageId = h.msgId;
        if (!h.persistent) return;
        const details = publishDetails(payload, h);
        const ttl = details.expiration === undefined ? Number.NaN : Number(details.expiration);
        const expiresAtMs = Number.isFinite(ttl) ? h.arrivedAtMs + ttl : Number.POSITIVE_INFINITY;
        const facts = { ...details, arrivedAtMs: h.arrivedAtMs, expiresAtMs };
        for (const qid of h.queueIds) {
          if (qid > maxQueueId) maxQueueId = qid;
          queueOf(qid)?.push(h.msgId, pos, facts);
        }
        return;
      }
      const qid = payload.readDoubleLE(0);
      const msgId = payload.readDoubleLE(8);
      const q = queues.get(qid) ?? unclaimed.get(qid);
      const i = q ? q.find(msgId) : -1;
      if (i < 0) return;
      this.pin(pos.segment, q!.segments[i]!);
      if (type === RecordType.Settle) q!.settled[i] = true;
      else if (type === RecordType.Delivered) q!.counts[i] = payload.readUInt32LE(16);
    };
    const report = this.log.open(visit, (region) => damaged.skipped(region));
    const losses = damaged.finish(this.damage, this.clock());
    const out = new Map<number, RecoveredQueue>();
    let messages = 0;
    for (const [queueId, q] of queues) {
      const entries = new ColdIndex();
      for (let i = 0; i < q.ids.length; i++) {
        if (q.settled[i] || q.damaged[i]) continue;
        entries.push({
          msgId: q.ids[i]!,
          segment: q.segments[i]!,
          offset: q.offsets[i]!,
          length: q.lengths[i]!,
          bodyBytes: q.bodies[i]!,
          deliveryCount: q.counts[i]!,
          expiresAtMs: q.expiries[i]!,
          persistent: true,
          arrivedAtMs: q.arrivals[i]!,
          priority: q.priorities[i]!,
        });
        this.live.set(q.segments[i]!, (this.live.get(q.segments[i]!) ?? 0) + 1);
      }
      messages += entries.length;
      out.set(queueId, { queueId, entries });
    }
    const kept = this.keepUnclaimed(unclaimed, accounting?.discardUnclaimed ?? false);
    this.reclaim();
    return {
      queues: out,
      maxMessageId,
      maxQueueId,
      unclaimed: kept,
      report: {
        ...report,
        ...losses,
        messages,
        durationMs: Math.round(performance.now() - started),
      },
    };
  }

  /**
   * The unsettled messages of unclaimed queues hold a claim on their segments that
   * nothing releases, so reclaim() never deletes them (unless the operator discards them).
   */
  private keepUnclaimed(
    unclaimed: ReadonlyMap<number, RecoveringQueue>,
    discard: boolean,
  ): UnclaimedMessages {
    const queueIds: number[] = [];
    const segments = new Set<number>();
    let messages = 0;
    for (const [queueId, q] of unclaimed) {
      let open = 0;
      for (let i = 0; i < q.ids.length; i++) {
        if (q.settled[i]) continue;
        open++;
        segments.add(q.segments[i]!);
        if (!discard) this.live.set(q.segments[i]!, (this.live.get(q.segments[i]!) ?? 0) + 1);
      }
      if (open === 0) continue;
      queueIds.push(queueId);
      messages += open;
    }
    return {
      queueIds: queueIds.sort((a, b) => a - b),
      messages,
      segments: [...segments].sort((a, b) => a - b),
    };
  }

  write(message: Message, queueIds: readonly number[], persistent: boolean): LogPosition {
    const pos = this.log.append(RecordType.Publish, encodePublish(message, queueIds, persistent));
    this.live.set(pos.segment, (this.live.get(pos.segment) ?? 0) + queueIds.length);
    this.scheduleFlush();
    return pos;
  }

  claim(_queueId: number, ref: LogPosition): void {
    this.live.set(ref.segment, (this.live.get(ref.segment) ?? 0) + 1);
  }

  settle(queueId: number, msgId: number, ref: LogPosition): void {
    const pos = this.log.append(RecordType.Settle, [encodeSettle(queueId, msgId)]);
    this.pin(pos.segment, ref.segment);
    this.scheduleFlush();
    this.release(queueId, ref);
  }

  delivered(queueId: number, msgId: number, ref: LogPosition, count: number): void {
    const pos = this.log.append(RecordType.Delivered, [encodeDelivered(queueId, msgId, count)]);
    this.pin(pos.segment, ref.segment);
    this.scheduleFlush();
  }

  release(_queueId: number, ref: LogPosition): void {
    const left = (this.live.get(ref.segment) ?? 0) - 1;
    if (left > 0) {
      this.live.set(ref.segment, left);
      return;
    }
    this.live.delete(ref.segment);
    this.reclaim();
  }

  read(ref: LogPosition): Message {
    try {
      const { type, payload } = this.log.read(ref);
      if (type !== RecordType.Publish) throw new CorruptRecordError(ref, "not a message record");
      return decodeMessage(payload);
    } catch (e) {
      if (e instanceof CorruptRecordError) this.unreadableRecord(ref, e);
      throw e;
    }
  }

  /** Fails as a whole; read() one by one tells which record is at fault. */
  readMany(refs: readonly LogPosition[]): Message[] {
    return this.log.readMany(refs).map(({ type, payload }, i) => {
      if (type !== RecordType.Publish)
        throw new CorruptRecordError(refs[i]!, "not a message record");
      return decodeMessage(payload);
    });
  }

  /** A record that will never read back: counted and remembered once, however many queues read it. */
  private unreadableRecord(ref: LogPosition, e: CorruptRecordError): void {
    const key = `${ref.segment}:${ref.offset}`;
    if (this.unreadable.has(key)) return;
    this.unreadable.add(key);
    this.damage.corruptRecords++;
    this.damage.skippedBytes += ref.length;
    recordDamage(this.damage, {
      atMs: this.clock(),
      when: "read",
      segment: ref.segment,
      offset: ref.offset,
      bytes: ref.length,
      record: "message",
      lost: [],
    });
    this.options.log?.error(
      { segment: ref.segment, offset: ref.offset, bytes: ref.length, err: e.message },
      `message store: unreadable record (${e.message}); the message in it is lost`,
    );
  }

  lost(queueId: number, msgId: number, ref: LogPosition, durable: boolean): void {
    this.damage.lostMessages++;
    const event = [...this.damage.events]
      .reverse()
      .find((d) => d.when === "read" && d.segment === ref.segment && d.offset === ref.offset);
    if (event) {
      event.lost?.push({ queueId, messages: 1 });
      if (event.msgId === undefined) (event as { msgId?: number }).msgId = msgId;
    }
    if (durable) this.settle(queueId, msgId, ref);
    else this.release(queueId, ref);
  }

  whenDurable(cb: DurableCallback): void {
    this.log.whenDurable(cb);
  }

  /** Writes what the turn appended; also where failed writes, rotations and deletions are retried. */
  flush(): void {
    this.flushScheduled = false;
    this.log.flush();
    if (this.reclaimError && this.clock() >= this.reclaimRetryAtMs) this.reclaim();
  }

  /**
   * Why the store cannot take writes as it should; the runtime sets the disk alarm
   * while there is one, so publishers are blocked. The text stays the same while
   * the cause does, so it is logged once.
   */
  get alarm(): string | undefined {
    const { failed, writeError, rotationError } = this.log;
    if (failed)
      return `message store failed (fdatasync: ${errText(failed)}); persistent publishes are nacked until Warren is restarted`;
    if (writeError)
      return `message store cannot write to disk (${errText(writeError)}); records are kept in memory and written when a retry succeeds`;
    if (rotationError)
      return `message store cannot start a new segment file (${errText(rotationError)}); the current segment keeps growing until one can be started`;
    return undefined;
  }

  /** Bytes of records held in memory because the disk refused them. */
  get unwrittenBytes(): number {
    return this.log.writeError ? this.log.unwrittenBytes : 0;
  }

  /** Segment files open now (the active one and cached read handles). */
  get openFiles(): number {
    return this.log.openFiles;
  }

  get diskBytes(): number {
    return this.log.diskBytes;
  }

  close(): void {
    this.log.close();
  }

  /** Segment numbers currently on disk (for tests and status). */
  segmentNumbers(): number[] {
    return this.log.segmentNumbers();
  }

  /** Deletes one segment; on failure (EMFILE, EIO) reclaiming stops and is retried later. */
  private removeSegment(n: number): boolean {
    try {
      this.log.remove(n);
    } catch (e) {
      if (!this.reclaimError)
        this.options.log?.warn(
          { segment: n, err: errText(e) },
          `could not delete finished message log segment ${n} (${errText(e)}); trying again later`,
        );
      this.reclaimError = e as Error;
      this.reclaimRetryAtMs = this.clock() + (this.options.retryMs ?? 1000);
      return false;
    }
    this.reclaimError = undefined;
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.options.scheduleFlush) this.options.scheduleFlush();
    else setImmediate(() => this.flush());
  }

  /** A record in segment `from` refers to a message in segment `to`. */
  private pin(from: number, to: number): void {
    if (to >= from) return;
    let set = this.pins.get(from);
    if (!set) {
      set = new Set();
      this.pins.set(from, set);
    }
    set.add(to);
  }

  /**
   * Deletes every finished segment with no open claims whose records refer to no
   * segment still on disk (oldest first, so deletions can cascade).
   */
  private reclaim(): void {
    const onDisk = new Set(this.log.segmentNumbers());
    const active = this.log.activeSegment;
    for (const n of [...onDisk].sort((a, b) => a - b)) {
      if (n === active || (this.live.get(n) ?? 0) > 0) continue;
      const refs = this.pins.get(n);
      if (refs && [...refs].some((r) => onDisk.has(r))) continue;
      if (!this.removeSegment(n)) return;
      onDisk.delete(n);
      this.pins.delete(n);
    }
  }
}
