import type { QueueEntry } from "../message/message.js";

/**
 * What one queue entry held in memory costs beyond its body and property bytes: the
 * entry object, its slot in the ready list, the message object, its property
 * summary and the two Buffer objects. Measured on Node 20 (x64): a 16-byte message
 * on one queue costs 476 bytes of heap; each further queue of a fanout adds about
 * 100, since the message is shared. Every entry is charged as if it were alone,
 * so a fanout is overcharged and pages early: the budget errs on the safe side.
 */
export const ENTRY_OVERHEAD_BYTES = 480;

/** Memory an in-memory entry is charged: its body and properties plus the bookkeeping around them. */
export function entryBytes(entry: QueueEntry): number {
  return entry.message.body.length + entry.message.properties.length + ENTRY_OVERHEAD_BYTES;
}

/**
 * The node-wide budget for message entries held in memory by every queue together
 * (ready, requeued, parked for a retry, and delivered but unacknowledged). Queues
 * charge it as entries come into memory and credit it as they leave; once it is
 * spent, new entries of every queue go to the message store (paging) instead of
 * memory, so the total has a bound whatever the number of queues. RabbitMQ pages
 * classic queues from half of its memory high watermark
 * (vm_memory_high_watermark_paging_ratio 0.5); the runtime sizes this budget the
 * same way, from the smaller of the watermark and what V8's heap can hold.
 */
export class MemoryBudget {
  /** Bytes entries may use before queues page new ones out. */
  limitBytes: number;
  private used = 0;
  private peak = 0;

  constructor(limitBytes = Number.POSITIVE_INFINITY) {
    this.limitBytes = limitBytes;
  }

  get usedBytes(): number {
    return this.used;
  }

  /** The most ever charged at once (for status: how close the node came). */
  get peakBytes(): number {
    return this.peak;
  }

  /** Whether new entries should go to the store rather than memory. */
  get exceeded(): boolean {
    return this.used >= this.limitBytes;
  }

  charge(bytes: number): void {
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  credit(bytes: number): void {
    this.used -= bytes;
  }
}
