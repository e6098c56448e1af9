/**
 * A double-ended queue on a growable ring buffer: O(1) push and shift at both ends,
 * no per-element allocation, indexable. Ready messages live here.
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.items = new Array(cap);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    if (this.count === 0) this.head = 0;
    return item;
  }

  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const at = (this.head + this.count - 1) & (this.items.length - 1);
    const item = this.items[at];
    this.items[at] = undefined;
    this.count--;
    return item;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) & (this.items.length - 1)];
  }

  clear(): T[] {
    const out = this.toArray();
    this.items = new Array(16);
    this.head = 0;
    this.count = 0;
    return out;
  }

  toArray(): T[] {
    const out: T[] = new Array(this.count);
    for (let i = 0; i < this.count; i++)
      out[i] = this.items[(this.head + i) & (this.items.length - 1)]!;
    return out;
  }

  /** Removes every item the predicate selects, keeping the order of the rest; returns the removed. */
  removeWhere(pred: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (const item of this.toArray()) (pred(item) ? removed : kept).push(item);
    if (removed.length === 0) return removed;
    this.clear();
    for (const item of kept) this.push(item);
    return removed;
  }

  private grow(): void {
    const next: (T | undefined)[] = new Array(this.items.length * 2);
    for (let i = 0; i < this.count; i++)
      next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
