import { ColdIndex, type ColdRecord } from "./cold-index.js";
import { Deque } from "./deque.js";
import type { QueueEntry } from "./message.js";
import { MinHeap } from "./min-heap.js";

/** What a page-in got back. */
export interface PageIn {
  /** The entries read, in order; a record unreadable for good is left out (the pager ended its claim). */
  readonly entries: QueueEntry[];
  /**
   * How many of the records were dealt with, from the first. The rest could not be
   * read now (EMFILE, EIO): they stay cold and are tried again later.
   */
  readonly consumed: number;
}

/** Moves entries between memory and the message store for a queue that grew long. */
export interface Pager {
  /** Writes the entry out if it is not stored yet; returns its compact record. */
  pageOut(entry: QueueEntry): ColdRecord;
  /** Reads entries back in, in order (adjacent records in one read). Never throws. */
  pageIn(records: readonly ColdRecord[]): PageIn;
}

/** What a queue needs from its ready messages; ReadyList and PriorityReadyList provide it. */
export interface Ready {
  readonly length: number;
  readonly bytes: number;
  readonly inMemory: number;
  /** Whether the next entries are on disk and could not be read back yet (tried again on the tick). */
  readonly pageInStalled: boolean;
  adoptCold(index: ColdIndex): void;
  push(entry: QueueEntry): void;
  requeue(entry: QueueEntry): void;
  peek(): QueueEntry | undefined;
  shift(): QueueEntry | undefined;
  clear(onCold?: (record: ColdRecord) => void): QueueEntry[];
  toArray(): QueueEntry[];
}

/**
 * What a queue may hold in memory before it pages newer entries out: bodies plus
 * about 300 bytes of bookkeeping an entry. 16 MiB is some 50,000 small messages or
 * 12,000 of 1 KiB; a queue always keeps at least 64 entries in memory.
 */
export const HOT_BUDGET_BYTES = 16 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 300;
const HOT_MIN_ENTRIES = 64;
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
  private readonly requeued = new MinHeap<QueueEntry>((e) => e.seq);
  private cold: ColdIndex | undefined;
  private hotBytes = 0;
  pageInStalled = false;

  constructor(
    private readonly pager?: Pager,
    private readonly hotBudgetBytes = HOT_BUDGET_BYTES,
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
    if (this.pager && ((this.cold?.length ?? 0) > 0 || this.overBudget())) {
      this.coldIndex().push(this.pager.pageOut(entry));
      return;
    }
    this.fresh.push(entry);
    this.hotBytes += entry.message.body.length;
  }

  requeue(entry: QueueEntry): void {
    this.requeued.push(entry);
    this.hotBytes += entry.message.body.length;
  }

  peek(): QueueEntry | undefined {
    if (this.requeued.length > 0) return this.requeued.peek();
    if (this.fresh.length === 0) this.pageIn();
    return this.fresh.peek();
  }

  shift(): QueueEntry | undefined {
    let entry: QueueEntry | undefined;
    if (this.requeued.length > 0) entry = this.requeued.pop();
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
    for (let e = this.requeued.pop(); e; e = this.requeued.pop()) out.push(e);
    for (let e = this.fresh.shift(); e; e = this.fresh.shift()) out.push(e);
    this.hotBytes = 0;
    if (this.cold) for (const r of this.cold.drain()) onCold?.(r);
    this.pageInStalled = false;
    return out;
  }

  /** The in-memory ready entries in queue order, without removing them. */
  toArray(): QueueEntry[] {
    return this.requeued.sorted().concat(this.fresh.toArray());
  }

  private overBudget(): boolean {
    const n = this.fresh.length;
    return n >= HOT_MIN_ENTRIES && this.hotBytes + n * ENTRY_OVERHEAD_BYTES >= this.hotBudgetBytes;
  }

  private coldIndex(): ColdIndex {
    this.cold ??= new ColdIndex();
    return this.cold;
  }

  /**
   * Reads the next batch of cold entries back. Records leave the cold tail only
   * once dealt with, so a read that fails now (EMFILE, EIO) loses nothing: the
   * queue just has nothing in memory until a later try succeeds.
   */
  private pageIn(): void {
    if (!this.cold || this.cold.length === 0 || !this.pager) return;
    const records = this.cold.first(PAGE_IN_BATCH);
    const { entries, consumed } = this.pager.pageIn(records);
    this.cold.drop(consumed);
    this.pageInStalled = consumed < records.length;
    for (const entry of entries) {
      this.fresh.push(entry);
      this.hotBytes += entry.message.body.length;
    }
  }
}
