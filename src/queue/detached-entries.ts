import type { ColdIndex, ColdRecord } from "../message/cold-index.js";
import type { QueueEntry } from "../message/message.js";
import { entryBytes, type MemoryBudget } from "./memory-budget.js";

/**
 * Entries taken out of a queue all at once (purge, delete) and let go of a slice at
 * a time afterwards. Taking them out is O(1): the queue hands over its structures
 * and starts empty; releasing millions of store claims then happens in slices that
 * yield the event loop (a 5.3M-message purge in one go held it for 13.9 s).
 */
export class DetachedEntries {
  private readonly hot: (() => QueueEntry | undefined)[] = [];
  private readonly cold: ColdIndex[] = [];
  private left = 0;

  constructor(
    /** Credited as each in-memory entry is let go (they stay in memory until then). */
    private readonly memory?: MemoryBudget,
  ) {}

  /** Entries still to let go. */
  get remaining(): number {
    return this.left;
  }

  /** In-memory entries, handed out by `take` until it returns undefined. */
  addHot(count: number, take: () => QueueEntry | undefined): void {
    if (count === 0) return;
    this.hot.push(take);
    this.left += count;
  }

  /** Entries whose content is only in the store. */
  addCold(index: ColdIndex | undefined): void {
    if (!index || index.length === 0) return;
    this.cold.push(index);
    this.left += index.length;
  }

  /**
   * Lets go of up to `max` entries, in-memory ones first; returns true when none
   * are left.
   */
  release(
    max: number,
    onEntry: (entry: QueueEntry) => void,
    onCold: (record: ColdRecord) => void,
  ): boolean {
    let done = 0;
    while (done < max && this.hot.length > 0) {
      const entry = this.hot[0]!();
      if (!entry) {
        this.hot.shift();
        continue;
      }
      this.memory?.credit(entryBytes(entry));
      onEntry(entry);
      done++;
    }
    while (done < max && this.cold.length > 0) {
      const record = this.cold[0]!.shift();
      if (!record) {
        this.cold.shift();
        continue;
      }
      onCold(record);
      done++;
    }
    this.left -= done;
    return this.hot.length === 0 && this.cold.length === 0;
  }
}
