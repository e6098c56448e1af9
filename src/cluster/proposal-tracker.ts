/**
 * The proposals one group accepted on this node and whose outcome is not known yet. A
 * proposal is settled when its index is applied: "applied" if the entry there has the term
 * it was appended with, "lost" if another term's entry took its place (Raft §5.4: an applied
 * entry is committed, so nothing else will ever be applied at that index). It stays pending
 * meanwhile even when this node stops leading: the new leader may still commit it, and this
 * node learns which when it applies that index as a follower.
 *
 * The tracker only decides; the driver calls the callbacks once its batch is done.
 */
import type { LogEntry } from "../raft/index.js";
import type { OutcomeCallback, ProposalOutcome, UnknownOutcomeReason } from "./proposal-outcome.js";

interface Waiter {
  readonly term: number;
  readonly onOutcome: OutcomeCallback;
}

/** A decided outcome and whom to tell. */
export interface Settlement {
  readonly onOutcome: OutcomeCallback;
  readonly outcome: ProposalOutcome;
}

export class ProposalTracker {
  /**
   * Index -> waiters. Usually one; more when this node led several terms and appended at the
   * same index in each (the earlier entry was truncated away, or may yet come back).
   */
  private readonly waiting = new Map<number, Waiter[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(index: number, term: number, onOutcome: OutcomeCallback): void {
    const waiters = this.waiting.get(index);
    if (waiters === undefined) this.waiting.set(index, [{ term, onOutcome }]);
    else waiters.push({ term, onOutcome });
    this.count++;
  }

  /** The entry at entry.index was applied with this result. */
  applied(entry: LogEntry, result: unknown, out: Settlement[]): void {
    if (this.count === 0) return;
    const waiters = this.take(entry.index);
    for (const { term, onOutcome } of waiters) {
      const { index } = entry;
      const outcome: ProposalOutcome =
        term === entry.term
          ? { status: "applied", index, term, result }
          : { status: "lost", reason: "lostLeadership", index, term };
      out.push({ onOutcome, outcome });
    }
  }

  /** A leader's snapshot replaced the log up to index: what was there cannot be known. */
  snapshotInstalled(index: number, out: Settlement[]): void {
    for (const pendingIndex of [...this.waiting.keys()]) {
      if (pendingIndex <= index) this.settleUnknown(pendingIndex, "snapshotInstalled", out);
    }
  }

  /** Settles everything still pending: the group or the driver is going away. */
  abandon(reason: UnknownOutcomeReason, out: Settlement[]): void {
    for (const index of [...this.waiting.keys()]) this.settleUnknown(index, reason, out);
  }

  private settleUnknown(index: number, reason: UnknownOutcomeReason, out: Settlement[]): void {
    for (const { term, onOutcome } of this.take(index)) {
      out.push({ onOutcome, outcome: { status: "unknown", reason, index, term } });
    }
  }

  private take(index: number): readonly Waiter[] {
    const waiters = this.waiting.get(index);
    if (waiters === undefined) return [];
    this.waiting.delete(index);
    this.count -= waiters.length;
    return waiters;
  }
}
