import type { ColdRecord } from "../message/cold-index.js";
import type { Message, QueueEntry, StoredRef } from "../message/message.js";
import type { DetachedEntries } from "./detached-entries.js";
import type { DurableWait } from "./enqueue-outcome.js";
import type { MemoryBudget } from "./memory-budget.js";
import type { Queue } from "./queue-type.js";
import type { Pager } from "./ready-list.js";

/** Why a message left a queue without being acknowledged (RabbitMQ's x-death reasons). */
export type DiscardReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

/** Where a classic queue's persistent messages are written (the message store). */
export interface ClassicStore extends DurableWait {
  /** One record for all the queues named; returns where it is. */
  write(message: Message, queueIds: readonly number[], persistent: boolean): StoredRef;
}

/**
 * What a classic queue tells its owner (the vhost) about; the owner wires storage
 * and dead-lettering.
 */
export interface QueueHooks {
  /** A message left the queue for good: acknowledged, or delivered with no-ack. */
  settled(queue: Queue, entry: QueueEntry): void;
  /** A message left the queue unacknowledged: dead-letter it or drop it. */
  discarded(queue: Queue, entry: QueueEntry, reason: DiscardReason): void;
  /** A cold (on-disk) entry left the queue without being read back (purge, delete). */
  settledCold(queue: Queue, record: ColdRecord): void;
  /** The entry is about to be delivered (its delivery count was just raised). */
  delivering(queue: Queue, entry: QueueEntry): void;
  /** The last of its consumers went away: it had one, so an auto-delete queue goes now. */
  lastConsumerGone(queue: Queue): void;
  /** Dispatch stopped at its batch limit with work left: call dispatch() again soon. */
  dispatchLater(queue: Queue): void;
  /**
   * Entries left the queue all at once (purge, delete): let them go (settled() and
   * settledCold() for each) a slice at a time, on later turns.
   */
  releaseLater(queue: Queue, entries: DetachedEntries): void;
  /**
   * Expiry or a length limit has more to drop than one slice: call `upkeep` on
   * later turns until it returns true.
   */
  upkeepLater(queue: Queue, upkeep: (nowMs: number) => boolean): void;
  /** Moves entries out of memory once the queue is long; absent when there is no store. */
  pager?(queue: Queue): Pager | undefined;
  /** The node's budget for entries in memory, shared by every queue. */
  readonly memory?: MemoryBudget;
  /** Where persistent messages of durable queues go; absent without a data directory. */
  readonly store?: ClassicStore;
}
