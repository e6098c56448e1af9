import { HOT_BUDGET_BYTES } from "./ready-list.js";

/** What a queue's pressure is read from; MessageQueue provides it. */
export interface QueueLoad {
  readonly deleted: boolean;
  readonly consumerCount: number;
  /** Ready messages. */
  readonly messageCount: number;
  /** Body bytes of the ready messages. */
  readonly readyBytes: number;
  /** x-queue-mode lazy: meant to hold a long backlog, so it holds no publisher back. */
  readonly lazy: boolean;
}

/** The levels that decide when a queue holds its publishers back (publisher flow control). */
export interface FlowMarks {
  /** Backlog weight at which a queue whose consumers are taking messages holds its publishers. */
  readonly holdWeight: number;
  /** What the consumers must take before the publishers held go on: the hysteresis. */
  readonly releaseWeight: number;
  /** Consumers that took nothing for this long are not waited for: the queue is then a store. */
  readonly stallMs: number;
}

/**
 * A backlog is weighed as body bytes plus 300 bytes a message, a little lighter than
 * the memory budget's charge (ENTRY_OVERHEAD_BYTES, 480 plus the properties). A queue
 * holds its publishers once the backlog weighs half its in-memory share (8 MiB), well
 * before it would page out: 26,500 messages of 16 B (it pages from about 33,700),
 * 6,300 of 1 KiB, 8 of 1 MiB. It lets them go once its consumers took 1 MiB of it
 * (3,300 of 16 B, 800 of 1 KiB, one of 1 MiB): small steps, so a publisher paced by slow
 * consumers waits a little often rather than long now and then.
 */
export const ENTRY_WEIGHT_BYTES = 300;
export const DEFAULT_FLOW_MARKS: FlowMarks = {
  holdWeight: HOT_BUDGET_BYTES / 2,
  releaseWeight: HOT_BUDGET_BYTES / 16,
  stallMs: 2_000,
};

/** Whatever waits for a queue to let its publishers go (a connection in flow). */
export interface PressureWatcher {
  pressureReleased(pressure: QueuePressure, nowMs: number): void;
}

/**
 * Whether a queue is falling behind its publishers: its intake outran its delivery
 * and half its in-memory budget, while its consumers are taking messages. A queue
 * with no consumers, or whose consumers took nothing for `stallMs`, is a store and
 * holds nobody: its bounds are its length limits and the resource alarms. So does a
 * lazy queue (x-queue-mode lazy), which says it is meant to grow. Pure: the
 * queue tells it when it delivers, time comes in as `nowMs`.
 *
 * The level at which publishers are held starts at `holdWeight` and follows the
 * backlog down; when a publisher is held at a higher backlog (consumers came back
 * to a queue that had grown), that level is kept. Publishers are released once the
 * consumers took `releaseWeight` from the level they were held at, so they refill
 * what the consumers took: the backlog stays where it was, it is neither let grow
 * nor drained before publishers may go on.
 */
export class QueuePressure {
  /** When the queue last handed a message to a consumer. */
  lastDeliveryMs = Number.NEGATIVE_INFINITY;
  private holdAtWeight: number;
  private readonly watchers = new Set<PressureWatcher>();

  constructor(
    private readonly load: QueueLoad,
    readonly marks: FlowMarks = DEFAULT_FLOW_MARKS,
  ) {
    this.holdAtWeight = marks.holdWeight;
  }

  /** The backlog's weight: bytes plus per-message bookkeeping. */
  get weight(): number {
    return this.load.readyBytes + this.load.messageCount * ENTRY_WEIGHT_BYTES;
  }

  /** Whether publishers wait for this queue now. */
  get watched(): boolean {
    return this.watchers.size > 0;
  }

  /** The queue delivered a message (to a consumer or basic.get). */
  delivered(nowMs: number): void {
    this.lastDeliveryMs = nowMs;
  }

  /** A publish reached the queue: whether its publisher must wait. */
  holdsPublisher(nowMs: number): boolean {
    const w = this.weight;
    const { holdWeight, releaseWeight } = this.marks;
    if (w < holdWeight) {
      this.holdAtWeight = holdWeight;
      return false;
    }
    if (!this.consumersTaking(nowMs)) return false;
    // The level follows the backlog down, never below holdWeight.
    if (w + releaseWeight < this.holdAtWeight) this.holdAtWeight = w + releaseWeight;
    if (w < this.holdAtWeight) return false;
    this.holdAtWeight = w;
    return true;
  }

  /**
   * Whether the publishers it holds may go on: the consumers took `releaseWeight`
   * since, or stopped taking (stalled, gone, or the queue was deleted).
   */
  releases(nowMs: number): boolean {
    return (
      !this.consumersTaking(nowMs) || this.weight <= this.holdAtWeight - this.marks.releaseWeight
    );
  }

  watch(watcher: PressureWatcher): void {
    this.watchers.add(watcher);
  }

  unwatch(watcher: PressureWatcher): void {
    this.watchers.delete(watcher);
  }

  /**
   * Called by the queue after it delivered or lost consumers: once it lets its
   * publishers go, each watcher hears it (once; they watch again when held again).
   */
  settle(nowMs: number): void {
    if (this.watchers.size === 0 || !this.releases(nowMs)) return;
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const w of watchers) w.pressureReleased(this, nowMs);
  }

  private consumersTaking(nowMs: number): boolean {
    return (
      this.load.consumerCount > 0 &&
      !this.load.deleted &&
      !this.load.lazy &&
      nowMs - this.lastDeliveryMs <= this.marks.stallMs
    );
  }
}
