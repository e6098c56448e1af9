import type { ColdIndex } from "../queue/cold-index.js";
import type { Message } from "../queue/message.js";
import type { LogPosition, RecoveryReport } from "./segment-log.js";

/** What recovery found for one durable queue: its unsettled messages, in queue order. */
export interface RecoveredQueue {
  readonly queueId: number;
  readonly entries: ColdIndex;
}

export interface StoreRecovery {
  readonly queues: Map<number, RecoveredQueue>;
  /** The highest message id seen; new ids continue above it. */
  readonly maxMessageId: number;
  readonly report: RecoveryReport & { messages: number; durationMs: number };
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
  /** Recovers the unsettled persistent messages of the given durable queues. Call once, first. */
  recover(durableQueueIds: ReadonlySet<number>): StoreRecovery;
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
  /** Reads a message back, body included. */
  read(ref: LogPosition): Message;
  /** Reads several back, in order; records next to each other on disk come in one read. */
  readMany(refs: readonly LogPosition[]): Message[];
  /** `cb` runs once everything written so far is durable (or could not be made so). */
  whenDurable(cb: DurableCallback): void;
  /** Writes buffered records now (the runtime calls it before writing to sockets). */
  flush(): void;
  /** Why the store cannot accept durable writes, if it cannot (an operator alarm). */
  readonly alarm: string | undefined;
  readonly diskBytes: number;
  close(): void;
}
