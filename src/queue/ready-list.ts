import { Deque } from "./deque.js";
import type { QueueEntry } from "./message.js";

/**
 * The ready messages of a queue in queue order. Fresh messages append to a deque;
 * requeued ones go to a min-heap by sequence number and are served first, which
 * puts each back in its original position (RabbitMQ: "a requeued message is placed
 * back in its original position in the queue, if possible"). This works because
 * every delivered message left the queue as its minimum, so any requeued sequence
 * number is smaller than every sequence number still in the deque.
 */
export class ReadyList {
  private readonly fresh = new Deque<QueueEntry>();
  private readonly requeued: QueueEntry[] = [];
  private byteCount = 0;

  get length(): number {
    return this.fresh.length + this.requeued.length;
  }

  /** Sum of body sizes of the ready messages. */
  get bytes(): number {
    return this.byteCount;
  }

  push(entry: QueueEntry): void {
    this.fresh.push(entry);
    this.byteCount += entry.message.body.length;
  }

  requeue(entry: QueueEntry): void {
    const heap = this.requeued;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.seq <= entry.seq) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
    this.byteCount += entry.message.body.length;
  }

  peek(): QueueEntry | undefined {
    return this.requeued.length > 0 ? this.requeued[0] : this.fresh.peek();
  }

  shift(): QueueEntry | undefined {
    const entry = this.requeued.length > 0 ? this.popHeap() : this.fresh.shift();
    if (entry) this.byteCount -= entry.message.body.length;
    return entry;
  }

  /** Removes and returns every ready entry, in queue order. */
  clear(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let e = this.shift(); e; e = this.shift()) out.push(e);
    return out;
  }

  /** Every ready entry in queue order, without removing them. */
  toArray(): QueueEntry[] {
    const heap = [...this.requeued].sort((a, b) => a.seq - b.seq);
    return heap.concat(this.fresh.toArray());
  }

  private popHeap(): QueueEntry {
    const heap = this.requeued;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && heap[r]!.seq < heap[l]!.seq ? r : l;
      if (heap[child]!.seq >= last.seq) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
