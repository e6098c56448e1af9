import type { Message } from "../queue/message.js";

interface Held {
  readonly message: Message;
  readonly dueAtMs: number;
  /** The store record holding it across restarts, when it is persistent. */
  readonly ref: { segment: number; offset: number; length: number } | undefined;
}

/**
 * The messages an x-delayed-message exchange holds until their x-delay has passed
 * (built in; RabbitMQ needs a plugin). A min-heap by due time; the broker's tick
 * routes the due ones through the exchange's underlying type.
 */
export class DelayedMessages {
  private readonly heap: Held[] = [];

  get length(): number {
    return this.heap.length;
  }

  hold(message: Message, dueAtMs: number, ref?: Held["ref"]): void {
    const heap = this.heap;
    const item = { message, dueAtMs, ref };
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueAtMs <= dueAtMs) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  takeDue(nowMs: number): Held[] {
    const out: Held[] = [];
    while (this.heap.length > 0 && this.heap[0]!.dueAtMs <= nowMs) out.push(this.pop());
    return out;
  }

  drain(): Held[] {
    const out: Held[] = [];
    while (this.heap.length > 0) out.push(this.pop());
    return out;
  }

  private pop(): Held {
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
    return top;
  }
}

/** The x-delay header of a message in milliseconds, or 0 (RabbitMQ's delayed-message plugin). */
export function delayOf(headers: Map<string, { type: string; value: unknown }>): number {
  const v = headers.get("x-delay");
  if (!v) return 0;
  const n =
    typeof v.value === "bigint"
      ? Number(v.value)
      : typeof v.value === "number"
        ? v.value
        : Number(String(v.value));
  return Number.isFinite(n) && n > 0 ? n : 0;
}
