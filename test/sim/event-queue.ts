/**
 * Simulated time: a priority queue of callbacks ordered by time, then by insertion, so two
 * events at the same instant always run in the same order.
 */
interface ScheduledEvent {
  readonly timeMs: number;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private heap: ScheduledEvent[] = [];
  private seq = 0;
  nowMs = 0;

  at(timeMs: number, run: () => void): void {
    this.push({ timeMs: Math.max(timeMs, this.nowMs), seq: this.seq++, run });
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.nowMs + delayMs, run);
  }

  /** Runs events in order until the queue is empty or the next one is after untilMs. */
  runUntil(untilMs: number, stop: () => boolean = () => false): void {
    while (this.heap.length > 0 && this.heap[0].timeMs <= untilMs) {
      const event = this.pop();
      this.nowMs = event.timeMs;
      event.run();
      if (stop()) return;
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /**
   * Runs the next event if it is due by untilMs; false when none is (time then moves to
   * untilMs). For runs that let promises settle between events (classic-queue-sim.ts).
   */
  runNext(untilMs: number): boolean {
    if (this.heap.length === 0 || this.heap[0].timeMs > untilMs) {
      this.nowMs = Math.max(this.nowMs, untilMs);
      return false;
    }
    const event = this.pop();
    this.nowMs = event.timeMs;
    event.run();
    return true;
  }

  size(): number {
    return this.heap.length;
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): ScheduledEvent {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
