import type { ColdIndex } from "../message/cold-index.js";
import type { Message } from "../message/message.js";
import type { LogPosition, RecoveryReport } from "./segment-log.js";

/** What recovery found for one durable queue: its unsettled messages, in queue order. */
export interface RecoveredQueue {
  readonly queueId: number;
  readonly entries: ColdIndex;
}

/**
 * What the definitions say about queue ids, so recovery knows which records it may
 * drop. Queue ids are never reused: a record of an id below nextQueueId that no queue
 * has is from a deleted queue; an id at or above it (or any id, when there are no
 * definitions) means the definitions are missing or older than the messages.
 */
export interface RecoveryAccounting {
  /** The definitions' nextQueueId; undefined when the node has no definitions. */
  readonly nextQueueId: number | undefined;
  /** Ids an earlier start found unclaimed and kept (they stay kept). */
  readonly heldQueueIds?: ReadonlySet<number>;
  /** The operator chose to drop unclaimed messages: report them, keep nothing for them. */
  readonly discardUnclaimed?: boolean;
}

/** Persistent messages no definition claims, which recovery kept (or dropped, if told to). */
export interface UnclaimedMessages {
  /** Their queue ids, ascending. */
  readonly queueIds: number[];
  /** Unsettled (queue, message) pairs among them. */
  readonly messages: number;
  /** Segments that hold them, ascending (kept on disk unless they were discarded). */
  readonly segments: number[];
}

export interface StoreRecovery {
  readonly queues: Map<number, RecoveredQueue>;
  /** The highest message id seen; new ids continue above it. */
  readonly maxMessageId: number;
  /** The highest queue id any persistent message names; new queue ids continue above it. */
  readonly maxQueueId: number;
  readonly unclaimed: UnclaimedMessages;
  readonly report: RecoveryReport & {
    messages: number;
    durationMs: number;
    /** Messages lost to damaged records, per queue store id (unsettled persistent messages only). */
    lostByQueue: Map<number, number>;
    /** Damaged stretches whose record could not be told (they may have held messages of any queue). */
    unattributed: number;
  };
}

/** What a damaged record held, as far as its header could tell. */
export type DamagedRecordKind = "message" | "settle" | "delivered" | "unknown";

/**
 * One damaged record (or stretch of records) the store found: skipped while the
 * log was scanned at start, or found unreadable when a queue read a message back.
 */
export interface DamageEvent {
  readonly atMs: number;
  readonly when: "recovery" | "read";
  readonly segment: number;
  readonly offset: number;
  readonly bytes: number;
  readonly record: DamagedRecordKind;
  /** Queue store ids that lost a message to it, with how many; undefined when unknown. */
  readonly lost: { queueId: number; messages: number }[] | undefined;
  readonly msgId?: number;
}

/**
 * What damage the store has met since it started, for metrics and the doctor:
 * counters, and the latest events (a bounded list).
 */
export interface StoreDamage {
  corruptRecords: number;
  skippedBytes: number;
  /** Queue claims lost with damaged records (a message in two queues counts twice). */
  lostMessages: number;
  readonly events: DamageEvent[];
}

/** How many damage events the store keeps for the doctor. */
export const DAMAGE_EVENTS_KEPT = 50;

export function noDamage(): StoreDamage {
  return { corruptRecords: 0, skippedBytes: 0, lostMessages: 0, events: [] };
}

/** Adds an event, keeping the list bounded (oldest dropped first). */
export function recordDamage(damage: StoreDamage, event: DamageEvent): void {
  damage.events.push(event);
  if (damage.events.length > DAMAGE_EVENTS_KEPT) damage.events.shift();
}

export type DurableCallback = (err: Error | undefined) => void;

/**
 * Where message contents live beyond memory. Two implementations pass one contract
 * suite (test/contract/message-store.contract.ts): FileMessageStore (segment log,
 * group commit, fdatasync) and MemoryMessageStore.
 *
 * A stored message is claimed by the queues it was written for; each claim ends
 * with settle() (acknowledged, dropped, dead-lettered: a record is written) or
 * release() (the queue itself is gone: no record needed). A message whose claims
 * have all ended may be reclaimed.
 */
export interface MessageStore {
  /**
   * Recovers the unsettled persistent messages of the given durable queues. Call once,
   * first. With `accounting`, messages of queues the definitions cannot account for are
   * kept (reported as unclaimed); without it, every unclaimed message may be reclaimed.
   */
  recover(durableQueueIds: ReadonlySet<number>, accounting?: RecoveryAccounting): StoreRecovery;
  /**
   * Writes a message for these queues and returns where it is. A persistent message
   * is recovered after a restart for durable queues; a transient one is only paged
   * out (kept out of memory) and forgotten on restart.
   */
  write(message: Message, queueIds: readonly number[], persistent: boolean): LogPosition;
  /**
   * Another queue shares a page-out record already written for the message (fanout
   * pages a message out once for all its queues); released or settled like any claim.
   */
  claim(queueId: number, ref: LogPosition): void;
  /** One queue is done with the message (acked, dropped or dead-lettered). */
  settle(queueId: number, msgId: number, ref: LogPosition): void;
  /** The message was delivered again: the count survives restarts. */
  delivered(queueId: number, msgId: number, ref: LogPosition, count: number): void;
  /** One queue's claim ends without a record (the queue was deleted for good). */
  release(queueId: number, ref: LogPosition): void;
  /**
   * Reads a message back, body included. Throws CorruptRecordError (segment-log.ts)
   * when the record can never be read, or the file system's error (EMFILE, EIO)
   * when it cannot be read now.
   */
  read(ref: LogPosition): Message;
  /** Reads several back, in order; records next to each other on disk come in one read. */
  readMany(refs: readonly LogPosition[]): Message[];
  /**
   * A queue's message is lost: its record can never be read. The claim ends as
   * settle() (`durable`) or release() ends it, and the loss is counted.
   */
  lost(queueId: number, msgId: number, ref: LogPosition, durable: boolean): void;
  /** Damage met since start (recovery and reads). */
  readonly damage: StoreDamage;
  /** `cb` runs once everything written so far is durable (or could not be made so). */
  whenDurable(cb: DurableCallback): void;
  /** Writes buffered records now (the runtime calls it before writing to sockets). */
  flush(): void;
  /** Why the store cannot accept durable writes, if it cannot (an operator alarm). */
  readonly alarm: string | undefined;
  /** Bytes of records held in memory because the disk refused them (file store). */
  readonly unwrittenBytes?: number;
  /** Files the store holds open now (file store; bounded by its handle cache). */
  readonly openFiles?: number;
  readonly diskBytes: number;
  close(): void;
}

/**
 * Whether the definitions cannot account for a queue id that persistent messages name
 * (so its messages must be kept, not reclaimed). Without accounting, the caller vouches
 * that the definitions are complete.
 */
export function unaccountedFor(
  queueId: number,
  claimed: ReadonlySet<number>,
  accounting: RecoveryAccounting | undefined,
): boolean {
  if (!accounting || claimed.has(queueId)) return false;
  const { nextQueueId, heldQueueIds } = accounting;
  return (
    nextQueueId === undefined || queueId >= nextQueueId || (heldQueueIds?.has(queueId) ?? false)
  );
}
