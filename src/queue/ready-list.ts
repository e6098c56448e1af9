import { ColdIndex, type ColdRecord } from "../message/cold-index.js";
import type { QueueEntry } from "../message/message.js";
import { MinHeap } from "../message/min-heap.js";
import { Deque } from "./deque.js";
import type { DetachedEntries } from "./detached-entries.js";
import { ENTRY_OVERHEAD_BYTES, entryBytes, type MemoryBudget } from "./memory-budget.js";

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
  /** Hands every ready entry over at once (O(1)) and starts empty. */
  detach(into: DetachedEntries): void;
  toArray(): QueueEntry[];
}

/**
 * What one queue may hold in memory before it pages newer entries out: bodies plus
 * the bookkeeping of each entry. 16 MiB is some 50,000 small messages or 12,000 of
 * 1 KiB. Beyond this per-queue share, the node-wide MemoryBudget bounds all queues
 * together. A queue always keeps at least 64 entries in memory, so an active queue
 * is served from memory even while the node is paging.
 */
export const HOT_BUDGET_BYTES = 16 * 1024 * 1024;
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
  private fresh = new Deque<QueueEntry>();
  private requeued = new MinHeap<QueueEntry>((e) => e.seq);
  private cold: ColdIndex | undefined;
  private hotBytes = 0;
  pageInStalled = false;

  constructor(
    private readonly pager?: Pager,
    private readonly hotBudgetBytes = HOT_BUDGET_BYTES,
    /** The node's budget for entries in memory, charged for every entry held here. */
    private readonly memory?: MemoryBudget,
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
    this.hold(entry);
  }

  requeue(entry: QueueEntry): void {
    this.requeued.push(entry);
    this.hold(entry);
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
    if (entry) this.letGo(entry);
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
    for (const e of out) this.letGo(e);
    if (this.cold) for (const r of this.cold.drain()) onCold?.(r);
    this.pageInStalled = false;
    return out;
  }

  detach(into: DetachedEntries): void {
    const { requeued, fresh } = this;
    into.addHot(requeued.length, () => requeued.pop());
    into.addHot(fresh.length, () => fresh.shift());
    into.addCold(this.cold);
    this.requeued = new MinHeap<QueueEntry>((e) => e.seq);
    this.fresh = new Deque<QueueEntry>();
    this.cold = undefined;
    this.pageInStalled = false;
    // The memory budget is credited as the detached entries are let go.
    this.hotBytes = 0;
  }

  /** The in-memory ready entries in queue order, without removing them. */
  toArray(): QueueEntry[] {
    return this.requeued.sorted().concat(this.fresh.toArray());
  }

  /** Whether a new entry should be paged out: this queue's share or the node's budget is spent. */
  private overBudget(): boolean {
    const n = this.fresh.length;
    if (n < HOT_MIN_ENTRIES) return false;
    if (this.memory?.exceeded) return true;
    return this.hotBytes + n * ENTRY_OVERHEAD_BYTES >= this.hotBudgetBytes;
  }

  private hold(entry: QueueEntry): void {
    this.hotBytes += entry.message.body.length;
    this.memory?.charge(entryBytes(entry));
  }

  private letGo(entry: QueueEntry): void {
    this.hotBytes -= entry.message.body.length;
    this.memory?.credit(entryBytes(entry));
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
      this.hold(entry);
    }
  }
}
