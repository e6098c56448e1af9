/**
 * What a leader knows about one follower's log, and how fast it may send to it. The three
 * states follow etcd-io/raft's progress tracker:
 *   probe     - the follower's match point is unknown: one append per round trip until found;
 *   replicate - match known: appends are pipelined, bounded by an in-flight window;
 *   snapshot  - the entries it needs are compacted: wait for the snapshot to land.
 */
import type { NodeId } from "./types.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** Sliding window of appends sent and not yet acknowledged: flow control per follower. */
export class Inflights {
  private lastIndexes: number[] = [];
  private sizesBytes: number[] = [];
  private totalBytes = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  add(lastIndex: number, sizeBytes: number): void {
    this.lastIndexes.push(lastIndex);
    this.sizesBytes.push(sizeBytes);
    this.totalBytes += sizeBytes;
  }

  /** Forgets every append whose last entry is at or below index: the follower has it. */
  freeTo(index: number): void {
    while (this.lastIndexes.length > 0 && this.lastIndexes[0] <= index) this.freeFirst();
  }

  freeFirst(): void {
    if (this.lastIndexes.length === 0) return;
    this.lastIndexes.shift();
    this.totalBytes -= this.sizesBytes.shift() ?? 0;
  }

  full(): boolean {
    return this.lastIndexes.length >= this.maxCount || this.totalBytes >= this.maxBytes;
  }

  count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes = [];
    this.sizesBytes = [];
    this.totalBytes = 0;
  }
}

export class Progress {
  state: ProgressState = "probe";
  /** Highest index known to be replicated on the follower. */
  matchIndex = 0;
  /** Next index to send. */
  nextIndex: number;
  /** In probe state: an append is out and we wait for its answer or a heartbeat answer. */
  probeSent = false;
  /** In snapshot state: the snapshot's index, and ticks spent waiting for it. */
  pendingSnapshotIndex = 0;
  snapshotElapsedTicks = 0;
  /** Heard from since the last check-quorum round (Raft dissertation §6.2). */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(
    readonly nodeId: NodeId,
    nextIndex: number,
    maxInflightAppends: number,
    maxInflightBytes: number,
  ) {
    this.nextIndex = nextIndex;
    this.inflights = new Inflights(maxInflightAppends, maxInflightBytes);
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot; start probing just past it.
    const floor = this.state === "snapshot" ? this.pendingSnapshotIndex : this.matchIndex;
    this.state = "probe";
    this.nextIndex = Math.max(this.matchIndex, floor) + 1;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.nextIndex = this.matchIndex + 1;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = "snapshot";
    this.pendingSnapshotIndex = snapshotIndex;
    this.snapshotElapsedTicks = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** True when nothing more may be sent until an answer arrives. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Records an append just sent whose last entry is lastIndex. */
  sentAppend(lastIndex: number, sizeBytes: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex, sizeBytes);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /** A success answer: returns true if it taught us something new. */
  acknowledge(matchIndex: number): boolean {
    const advanced = matchIndex > this.matchIndex;
    if (advanced) {
      this.matchIndex = matchIndex;
      this.probeSent = false;
    }
    this.nextIndex = Math.max(this.nextIndex, matchIndex + 1);
    this.inflights.freeTo(matchIndex);
    return advanced;
  }

  /**
   * A rejection of the append that probed rejectedIndex. Returns false when the answer is
   * stale (an older probe, or below what the follower already acknowledged). Otherwise moves
   * nextIndex back to just past probeHint, never below matchIndex + 1, and returns true.
   */
  rejected(rejectedIndex: number, probeHint: number): boolean {
    if (rejectedIndex <= this.matchIndex) return false;
    if (this.state === "probe" && rejectedIndex !== this.nextIndex - 1) return false;
    if (this.state === "snapshot") return false;
    this.state = "probe";
    this.inflights.reset();
    this.nextIndex = Math.max(this.matchIndex + 1, Math.min(rejectedIndex, probeHint + 1));
    this.probeSent = false;
    return true;
  }
}
