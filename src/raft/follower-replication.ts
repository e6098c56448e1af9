/**
 * The follower's half of log replication: what to do with an append or a snapshot from the
 * leader, decided against the local log. Pure functions over RaftLog; the machine sends the
 * answers and adopts the commit index.
 */
import type { AppendRequest } from "./messages.js";
import type { RaftLog } from "./raft-log.js";
import type { SnapshotMeta } from "./types.js";

export interface AppendOutcome {
  readonly success: boolean;
  /** On success, the last index known to match the leader's log. */
  readonly matchIndex: number;
  /** On rejection, where the leader should look next (Raft §5.3 fast backtracking). */
  readonly hintIndex: number;
  readonly hintTerm: number;
  /** The commit index the follower may adopt now (never below the current one). */
  readonly commitIndex: number;
  /** Entries were appended (after dropping a conflicting suffix): membership may change. */
  readonly logChanged: boolean;
}

/** Raft §5.3, AppendEntries receiver implementation; appends to log as a side effect. */
export function acceptAppend(
  log: RaftLog,
  commitIndex: number,
  message: AppendRequest,
): AppendOutcome {
  const unchanged = { hintIndex: 0, hintTerm: 0, commitIndex, logChanged: false };
  if (message.prevIndex < commitIndex) {
    // Everything up to our commit index matches any leader's log (§5.4): say so.
    return { ...unchanged, success: true, matchIndex: commitIndex };
  }
  if (!log.matchTerm(message.prevIndex, message.prevTerm)) {
    const hintIndex = log.findConflictByTerm(message.prevIndex, message.prevTerm);
    return {
      ...unchanged,
      success: false,
      matchIndex: 0,
      hintIndex,
      hintTerm: log.termAt(hintIndex) ?? 0,
    };
  }
  const lastNewIndex = message.prevIndex + message.entries.length;
  const conflict = log.findConflict(message.entries);
  if (conflict !== 0) {
    if (conflict <= commitIndex) {
      throw new Error(`entry ${conflict} conflicts with the committed log of ${message.to}`);
    }
    // Only from the first conflict on: a delayed, shorter append must not cut the log.
    log.append(message.entries.slice(conflict - message.prevIndex - 1));
  }
  return {
    success: true,
    matchIndex: lastNewIndex,
    hintIndex: 0,
    hintTerm: 0,
    // Not past the last new entry: what follows it in our log may still differ.
    commitIndex: Math.max(commitIndex, Math.min(message.commitIndex, lastNewIndex)),
    logChanged: conflict !== 0,
  };
}

export type SnapshotVerdict =
  /** Older than what we committed: answer with our commit index. */
  | { readonly action: "ignore"; readonly matchIndex: number }
  /** Raft §7 rule 6: we hold its last entry, so keep the log after it and just commit. */
  | { readonly action: "commit"; readonly matchIndex: number }
  /** Raft §7 rule 7: discard the whole log and install the snapshot. */
  | { readonly action: "install"; readonly matchIndex: number };

export function judgeSnapshot(
  log: RaftLog,
  commitIndex: number,
  meta: SnapshotMeta,
): SnapshotVerdict {
  if (meta.index <= commitIndex) return { action: "ignore", matchIndex: commitIndex };
  if (log.matchTerm(meta.index, meta.term)) return { action: "commit", matchIndex: meta.index };
  return { action: "install", matchIndex: meta.index };
}
