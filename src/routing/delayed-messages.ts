import type { Message } from "../message/message.js";
import { MinHeap } from "../message/min-heap.js";

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
  private readonly heap = new MinHeap<Held>((h) => h.dueAtMs);

  get length(): number {
    return this.heap.length;
  }

  hold(message: Message, dueAtMs: number, ref?: Held["ref"]): void {
    this.heap.push({ message, dueAtMs, ref });
  }

  takeDue(nowMs: number): Held[] {
    const out: Held[] = [];
    while ((this.heap.peek()?.dueAtMs ?? Number.POSITIVE_INFINITY) <= nowMs)
      out.push(this.heap.pop()!);
    return out;
  }

  drain(): Held[] {
    const out: Held[] = [];
    for (let h = this.heap.pop(); h; h = this.heap.pop()) out.push(h);
    return out;
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
