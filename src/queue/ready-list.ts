import { ColdIndex, type ColdRecord } from "./cold-index.js";
import { Deque } from "./deque.js";
import type { QueueEntry } from "./message.js";

/** Moves entries between memory and the message store for a queue that grew long. */
export interface Pager {
  /** Writes the entry out if it is not stored yet; returns its compact record. */
  pageOut(entry: QueueEntry): ColdRecord;
  /** Reads an entry back in. */
  pageIn(record: ColdRecord): QueueEntry;
}

/** What a queue needs from its ready messages; ReadyList and PriorityReadyList provide it. */
export interface Ready {
  readonly length: number;
  readonly bytes: number;
  readonly inMemory: number;
  adoptCold(index: ColdIndex): void;
  push(entry: QueueEntry): void;
  requeue(entry: QueueEntry): void;
  peek(): QueueEntry | undefined;
  shift(): QueueEntry | undefined;
  clear(onCold?: (record: ColdRecord) => void): QueueEntry[];
  toArray(): QueueEntry[];
}

/** Entries kept in memory before a queue starts paging newer ones out. */
export const HOT_LIMIT = 2048;
/** Entries read back from the store at a time when the in-memory part runs dry. */
const PAGE_IN_BATCH = 256;

/**
 * The ready messages of a queue in queue order, in three parts served in this order:
 * requeued entries (a min-heap by sequence number, so each goes back to its original
 * position: RabbitMQ's "a requeued message is placed back in its original position"),
 * then the in-memory deque of fresh entries, then the cold tail whose contents are
 * only on disk (a compact ColdIndex). This works because every delivered message
 * left the queue as its minimum, so any requeued sequence number is smaller than
 * every one still in the deque or the cold tail; and everything cold is newer than
 * everything hot, because once the tail is cold every new entry goes there too.
 */
export class ReadyList implements Ready {
  private readonly fresh = new Deque<QueueEntry>();
  private readonly requeued: QueueEntry[] = [];
  private cold: ColdIndex | undefined;
  private hotBytes = 0;

  constructor(
    private readonly pager?: Pager,
    private readonly hotLimit = HOT_LIMIT,
  ) {}

  get length(): number {
    return this.fresh.length + this.requeued.length + (this.cold?.length ?? 0);
  }

  /** Sum of body sizes of the ready messages. */
  get bytes(): number {
    return this.hotBytes + (this.cold?.bytes ?? 0);
  }

  /** Entries whose content is in memory. */
  get inMemory(): number {
    return this.fresh.length + this.requeued.length;
  }

  /** Takes over recovered entries (all cold) in queue order. */
  adoptCold(index: ColdIndex): void {
    if (this.length > 0) throw new Error("recovered entries must come first");
    this.cold = index;
  }

  push(entry: QueueEntry): void {
    if (this.pager && ((this.cold?.length ?? 0) > 0 || this.fresh.length >= this.hotLimit)) {
      this.coldIndex().push(this.pager.pageOut(entry));
      return;
    }
    this.fresh.push(entry);
    this.hotBytes += entry.message.body.length;
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
    this.hotBytes += entry.message.body.length;
  }

  peek(): QueueEntry | undefined {
    if (this.requeued.length > 0) return this.requeued[0];
    if (this.fresh.length === 0) this.pageIn();
    return this.fresh.peek();
  }

  shift(): QueueEntry | undefined {
    let entry: QueueEntry | undefined;
    if (this.requeued.length > 0) entry = this.popHeap();
    else {
      if (this.fresh.length === 0) this.pageIn();
      entry = this.fresh.shift();
    }
    if (entry) this.hotBytes -= entry.message.body.length;
    return entry;
  }

  /**
   * Removes every ready entry, in queue order: in-memory ones are returned, cold
   * ones are handed to `onCold` without being read back.
   */
  clear(onCold?: (record: ColdRecord) => void): QueueEntry[] {
    const out: QueueEntry[] = [];
    while (this.requeued.length > 0) out.push(this.popHeap());
    for (let e = this.fresh.shift(); e; e = this.fresh.shift()) out.push(e);
    this.hotBytes = 0;
    if (this.cold) for (const r of this.cold.drain()) onCold?.(r);
    return out;
  }

  /** The in-memory ready entries in queue order, without removing them. */
  toArray(): QueueEntry[] {
    const heap = [...this.requeued].sort((a, b) => a.seq - b.seq);
    return heap.concat(this.fresh.toArray());
  }

  private coldIndex(): ColdIndex {
    this.cold ??= new ColdIndex();
    return this.cold;
  }

  private pageIn(): void {
    if (!this.cold || this.cold.length === 0 || !this.pager) return;
    for (let n = 0; n < PAGE_IN_BATCH; n++) {
      const r = this.cold.shift();
      if (!r) break;
      const entry = this.pager.pageIn(r);
      this.fresh.push(entry);
      this.hotBytes += entry.message.body.length;
    }
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
