import type { QueueEntry } from "../message/message.js";
import { MinHeap } from "../message/min-heap.js";
import type { DetachedEntries } from "./detached-entries.js";
import { entryBytes, type MemoryBudget } from "./memory-budget.js";

interface Parked {
  readonly entry: QueueEntry;
  readonly dueAtMs: number;
}

/**
 * Messages a consumer returned, parked until their retry delay has passed (beyond
 * RabbitMQ: x-retry-delay doubles with each attempt up to x-retry-delay-max, so a
 * consumer that fails on a message does not spin on it).
 */
export class RetryDelays {
  private heap = new MinHeap<Parked>((p) => p.dueAtMs);
  private byteCount = 0;

  constructor(private readonly memory?: MemoryBudget) {}

  get length(): number {
    return this.heap.length;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** The delay before attempt number `deliveries + 1`: base * 2^(deliveries - 1), capped. */
  static delayFor(deliveries: number, baseMs: number, maxMs: number): number {
    return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, deliveries - 1)));
  }

  park(entry: QueueEntry, dueAtMs: number): void {
    this.heap.push({ entry, dueAtMs });
    this.byteCount += entry.message.body.length;
    this.memory?.charge(entryBytes(entry));
  }

  /** Entries whose time has come, earliest first. */
  takeDue(nowMs: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    while ((this.heap.peek()?.dueAtMs ?? Number.POSITIVE_INFINITY) <= nowMs) out.push(this.take()!);
    return out;
  }

  /** The earliest due time, or Infinity. */
  get nextDueMs(): number {
    return this.heap.peek()?.dueAtMs ?? Number.POSITIVE_INFINITY;
  }

  /** The entry due first, taken out whatever its time. */
  popEarliest(): QueueEntry | undefined {
    return this.take();
  }

  /** Hands every parked entry over at once and starts empty (purge, delete). */
  detach(into: DetachedEntries): void {
    const heap = this.heap;
    into.addHot(heap.length, () => heap.pop()?.entry);
    this.heap = new MinHeap<Parked>((p) => p.dueAtMs);
    this.byteCount = 0;
  }

  clear(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let e = this.take(); e; e = this.take()) out.push(e);
    return out;
  }

  private take(): QueueEntry | undefined {
    const parked = this.heap.pop();
    if (parked) {
      this.byteCount -= parked.entry.message.body.length;
      this.memory?.credit(entryBytes(parked.entry));
    }
    return parked?.entry;
  }
}
