import { ColdIndex } from "../queue/cold-index.js";
import type { Message } from "../queue/message.js";
import {
  decodeMessage,
  decodePublishHeader,
  encodeDelivered,
  encodePublish,
  encodeSettle,
  publishDetails,
  RecordType,
} from "./message-records.js";
import type {
  DurableCallback,
  MessageStore,
  RecoveredQueue,
  RecoveryAccounting,
  StoreRecovery,
  UnclaimedMessages,
} from "./message-store.js";
import { unaccountedFor } from "./message-store.js";
import { type LogPosition, SegmentLog } from "./segment-log.js";
import type { StoreFs } from "./store-fs.js";

export interface FileStoreOptions {
  readonly dir: string;
  readonly fs: StoreFs;
  /** Segment size; a segment is deleted once nothing in it is needed. */
  readonly segmentBytes?: number;
  /** Called after records were appended in a turn, so the owner can flush them soon. */
  readonly scheduleFlush?: () => void;
}

/** A recovered queue's messages while the log is scanned, with settled ones marked. */
class RecoveringQueue {
  ids: number[] = [];
  segments: number[] = [];
  offsets: number[] = [];
  lengths: number[] = [];
  bodies: number[] = [];
  arrivals: number[] = [];
  priorities: number[] = [];
  /** Absolute expiry from the per-message expiration property, or Infinity. */
  expiries: number[] = [];
  counts: number[] = [];
  settled: boolean[] = [];

  /** Index of a message id (ids are appended in increasing order), or -1. */
  find(msgId: number): number {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.ids[mid]!;
      if (v === msgId) return mid;
      if (v < msgId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
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

  constructor(private readonly options: FileStoreOptions) {
    this.log = new SegmentLog(options.dir, options.fs, options.segmentBytes ?? 64 * 1024 * 1024);
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
    const report = this.log.open((type, payload, pos) => {
      if (type === RecordType.Publish) {
        const h = decodePublishHeader(payload);
        if (h.msgId > maxMessageId) maxMessageId = h.msgId;
        if (!h.persistent) return;
        const details = publishDetails(payload, h);
        const ttl = details.expiration === undefined ? Number.NaN : Number(details.expiration);
        const expiresAt = Number.isFinite(ttl) ? h.arrivedAtMs + ttl : Number.POSITIVE_INFINITY;
        for (const qid of h.queueIds) {
          if (qid > maxQueueId) maxQueueId = qid;
          const q = queueOf(qid);
          if (!q) continue;
          q.ids.push(h.msgId);
          q.segments.push(pos.segment);
          q.offsets.push(pos.offset);
          q.lengths.push(pos.length);
          q.bodies.push(details.bodyBytes);
          q.arrivals.push(h.arrivedAtMs);
          q.priorities.push(details.priority);
          q.expiries.push(expiresAt);
          q.counts.push(0);
          q.settled.push(false);
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
    });
    const out = new Map<number, RecoveredQueue>();
    let messages = 0;
    for (const [queueId, q] of queues) {
      const entries = new ColdIndex();
      for (let i = 0; i < q.ids.length; i++) {
        if (q.settled[i]) continue;
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
      report: { ...report, messages, durationMs: Math.round(performance.now() - started) },
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
    const { type, payload } = this.log.read(ref);
    if (type !== RecordType.Publish)
      throw new Error(`record at ${ref.segment}:${ref.offset} is not a message`);
    return decodeMessage(payload);
  }

  readMany(refs: readonly LogPosition[]): Message[] {
    return this.log.readMany(refs).map(({ type, payload }, i) => {
      if (type !== RecordType.Publish)
        throw new Error(`record at ${refs[i]!.segment}:${refs[i]!.offset} is not a message`);
      return decodeMessage(payload);
    });
  }

  whenDurable(cb: DurableCallback): void {
    this.log.whenDurable(cb);
  }

  flush(): void {
    this.flushScheduled = false;
    this.log.flush();
  }

  get alarm(): string | undefined {
    if (this.log.failed) return `message store failed (fdatasync): ${this.log.failed.message}`;
    if (this.log.writeError) return `message store write failed: ${this.log.writeError.message}`;
    return undefined;
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
      this.log.remove(n);
      onDisk.delete(n);
      this.pins.delete(n);
    }
  }
}
