/**
 * A durable queue's messages while the log is scanned at start, in message-id
 * order (which is queue order), with settled ones marked. A damaged PUBLISH
 * record that still names the queue leaves a placeholder (`damaged`), so the
 * settle records after it tell whether the message was still needed.
 */
export class RecoveringQueue {
  ids: number[] = [];
  segments: number[] = [];
  offsets: number[] = [];
  lengths: number[] = [];
  bodies: number[] = [];
  arrivals: number[] = [];
  priorities: number[] = [];
  /** Absolute expiry from the per-message expiration property, or Infinity. */
  expiries: number[] = [];
  counts: number[] = [];
  settled: boolean[] = [];
  damaged: boolean[] = [];

  /** Index of a message id (ids are appended in increasing order), or -1. */
  find(msgId: number): number {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.ids[mid]!;
      if (v === msgId) return mid;
      if (v < msgId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Whether a message id can be added here without breaking the id order. */
  accepts(msgId: number): boolean {
    return this.ids.length === 0 || this.ids[this.ids.length - 1]! < msgId;
  }

  push(
    msgId: number,
    where: { segment: number; offset: number; length: number },
    facts: { bodyBytes: number; arrivedAtMs: number; priority: number; expiresAtMs: number },
    damaged = false,
  ): number {
    this.ids.push(msgId);
    this.segments.push(where.segment);
    this.offsets.push(where.offset);
    this.lengths.push(where.length);
    this.bodies.push(facts.bodyBytes);
    this.arrivals.push(facts.arrivedAtMs);
    this.priorities.push(facts.priority);
    this.expiries.push(facts.expiresAtMs);
    this.counts.push(0);
    this.settled.push(false);
    this.damaged.push(damaged);
    return this.ids.length - 1;
  }
}
