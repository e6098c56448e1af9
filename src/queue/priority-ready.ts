import { ColdIndex, type ColdRecord } from "../message/cold-index.js";
import type { QueueEntry } from "../message/message.js";
import type { DetachedEntries } from "./detached-entries.js";
import type { MemoryBudget } from "./memory-budget.js";
import { HOT_BUDGET_BYTES, type Pager, type Ready, ReadyList } from "./ready-list.js";

/**
 * The ready messages of an x-max-priority queue: one ReadyList per priority level,
 * served highest level first, FIFO within a level (RabbitMQ priority queues).
 * A message's priority above the maximum counts as the maximum.
 */
export class PriorityReadyList implements Ready {
  private readonly levels: ReadyList[];

  constructor(
    readonly maxPriority: number,
    pager?: Pager,
    memory?: MemoryBudget,
  ) {
    this.levels = Array.from(
      { length: maxPriority + 1 },
      () => new ReadyList(pager, HOT_BUDGET_BYTES, memory),
    );
  }

  private level(priority: number): ReadyList {
    return this.levels[Math.min(priority, this.maxPriority)]!;
  }

  get length(): number {
    let n = 0;
    for (const l of this.levels) n += l.length;
    return n;
  }

  get bytes(): number {
    let n = 0;
    for (const l of this.levels) n += l.bytes;
    return n;
  }

  get inMemory(): number {
    let n = 0;
    for (const l of this.levels) n += l.inMemory;
    return n;
  }

  get pageInStalled(): boolean {
    return this.levels.some((l) => l.pageInStalled);
  }

  /** Recovered entries carry their priority; each level gets its own, in order. */
  adoptCold(index: ColdIndex): void {
    const split = this.levels.map(() => new ColdIndex());
    for (const r of index.drain()) split[Math.min(r.priority, this.maxPriority)]!.push(r);
    split.forEach((idx, i) => {
      if (idx.length > 0) this.levels[i]!.adoptCold(idx);
    });
  }

  push(entry: QueueEntry): void {
    this.level(entry.message.summary.priority).push(entry);
  }

  requeue(entry: QueueEntry): void {
    this.level(entry.message.summary.priority).requeue(entry);
  }

  private top(): ReadyList | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--)
      if (this.levels[i]!.length > 0) return this.levels[i];
    return undefined;
  }

  peek(): QueueEntry | undefined {
    return this.top()?.peek();
  }

  shift(): QueueEntry | undefined {
    return this.top()?.shift();
  }

  clear(onCold?: (record: ColdRecord) => void): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.levels.length - 1; i >= 0; i--) out.push(...this.levels[i]!.clear(onCold));
    return out;
  }

  detach(into: DetachedEntries): void {
    for (let i = this.levels.length - 1; i >= 0; i--) this.levels[i]!.detach(into);
  }

  toArray(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.levels.length - 1; i >= 0; i--) out.push(...this.levels[i]!.toArray());
    return out;
  }
}
