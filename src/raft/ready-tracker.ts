/**
 * The machine's memory of what it has handed to its runtime: messages waiting to leave,
 * snapshots waiting to be stored, the hard state and committed entries already handed out.
 * From these and the log it builds each Ready (ready.ts).
 */
import type { RaftMessage } from "./messages.js";
import type { RaftLog } from "./raft-log.js";
import type { Ready } from "./ready.js";
import type { HardState, Snapshot } from "./types.js";

export class ReadyTracker {
  private outbox: RaftMessage[] = [];
  private pendingInstall: Snapshot | null = null;
  private pendingCompaction: Snapshot | null = null;
  private handedOutHardState: HardState;
  /** Committed entries up to here were handed out for applying. */
  private handedOutIndex: number;
  /** A Ready is out and advance() has not been called yet. */
  outstanding = false;

  constructor(persistedHardState: HardState, appliedIndex: number) {
    this.handedOutHardState = persistedHardState;
    this.handedOutIndex = appliedIndex;
  }

  send(message: RaftMessage): void {
    this.outbox.push(message);
  }

  /** A snapshot from the leader replaces log and state machine: apply nothing before it. */
  install(snapshot: Snapshot): void {
    this.pendingInstall = snapshot;
    this.pendingCompaction = null;
    this.handedOutIndex = snapshot.meta.index;
  }

  compaction(snapshot: Snapshot): void {
    this.pendingCompaction = snapshot;
  }

  hasWork(log: RaftLog, hardState: HardState, commitIndex: number): boolean {
    return (
      this.outbox.length > 0 ||
      this.pendingInstall !== null ||
      this.pendingCompaction !== null ||
      log.stableIndex() < log.lastIndex() ||
      commitIndex > this.handedOutIndex ||
      !sameHardState(hardState, this.handedOutHardState)
    );
  }

  take(log: RaftLog, hardState: HardState, commitIndex: number, maxApplyBytes: number): Ready {
    if (this.outstanding) throw new Error("ready() called again before advance()");
    const last = this.handedOutHardState;
    const entries = log.unstableEntries();
    const committed = log.slice(this.handedOutIndex + 1, commitIndex, maxApplyBytes);
    const ready: Ready = {
      hardState: sameHardState(hardState, last) ? null : hardState,
      snapshot: this.pendingInstall,
      compaction: this.pendingCompaction,
      entries,
      // A commit index alone may be lost in a crash: it is learned again from the leader.
      mustSync:
        entries.length > 0 ||
        this.pendingInstall !== null ||
        hardState.term !== last.term ||
        hardState.votedFor !== last.votedFor,
      messages: this.outbox,
      committed,
    };
    this.outbox = [];
    this.pendingInstall = null;
    this.pendingCompaction = null;
    this.handedOutHardState = hardState;
    if (committed.length > 0) this.handedOutIndex = committed[committed.length - 1].index;
    this.outstanding = true;
    return ready;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}
