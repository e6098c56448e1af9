import type { QueueEntry } from "./message.js";

interface Parked {
  readonly entry: QueueEntry;
  readonly dueAtMs: number;
}

/**
 * Messages a consumer returned, parked until their retry delay has passed (beyond
 * RabbitMQ: x-retry-delay doubles with each attempt up to x-retry-delay-max, so a
 * consumer that fails on a message does not spin on it). A min-heap by due time.
 */
export class RetryDelays {
  private readonly heap: Parked[] = [];
  private byteCount = 0;

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
    const heap = this.heap;
    const item = { entry, dueAtMs };
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueAtMs <= dueAtMs) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
    this.byteCount += entry.message.body.length;
  }

  /** Entries whose time has come, earliest first. */
  takeDue(nowMs: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.dueAtMs <= nowMs) out.push(this.pop());
    return out;
  }

  /** The earliest due time, or Infinity. */
  get nextDueMs(): number {
    return this.heap.length > 0 ? this.heap[0]!.dueAtMs : Number.POSITIVE_INFINITY;
  }

  /** The entry due first, taken out whatever its time. */
  popEarliest(): QueueEntry | undefined {
    return this.heap.length > 0 ? this.pop() : undefined;
  }

  clear(): QueueEntry[] {
    const out: QueueEntry[] = [];
    while (this.heap.length > 0) out.push(this.pop());
    return out;
  }

  private pop(): QueueEntry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const child = r < heap.length && heap[r]!.dueAtMs < heap[l]!.dueAtMs ? r : l;
        if (heap[child]!.dueAtMs >= last.dueAtMs) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    this.byteCount -= top.entry.message.body.length;
    return top.entry;
  }
}
