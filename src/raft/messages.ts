/**
 * The messages Raft nodes exchange. Every message carries the sender's term; the receiver
 * compares terms before anything else (Raft §5.1). A transport only has to deliver these
 * objects between nodes of the same group; it may drop, delay, duplicate or reorder them.
 */
import type { LogEntry, NodeId, Snapshot } from "./types.js";

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote (Raft §5.2), or a pre-vote that asks without disturbing terms (dissertation §9.6). */
export interface VoteRequest extends Envelope {
  readonly type: "vote";
  readonly preVote: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when a leader handed over with timeoutNow: voters skip the leader-lease check. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: "voteResponse";
  readonly preVote: boolean;
  readonly granted: boolean;
}

/** AppendEntries (Raft §5.3). An empty entries array still probes prevIndex/prevTerm. */
export interface AppendRequest extends Envelope {
  readonly type: "append";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly LogEntry[];
  readonly commitIndex: number;
}

/**
 * The answer to append or snapshot. On success matchIndex is the last index known to match the
 * leader. On rejection, rejectedIndex echoes the probed prevIndex and (hintIndex, hintTerm)
 * lets the leader skip a whole conflicting term at once (Raft §5.3, "fast backtracking").
 */
export interface AppendResponse extends Envelope {
  readonly type: "appendResponse";
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * Leader liveness and commit propagation, without a log check. commitIndex is at most what
 * the leader knows this follower holds, so the follower can adopt it blindly.
 */
export interface HeartbeatRequest extends Envelope {
  readonly type: "heartbeat";
  readonly commitIndex: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: "heartbeatResponse";
}

/** InstallSnapshot (Raft §7), sent whole. */
export interface SnapshotRequest extends Envelope {
  readonly type: "snapshot";
  readonly snapshot: Snapshot;
}

/** Leadership transfer: "start an election now" (dissertation §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: "timeoutNow";
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNow;

export type RaftMessageType = RaftMessage["type"];

/** Messages only a leader sends; receiving one at our term names the leader. */
export function isFromLeader(message: RaftMessage): boolean {
  return (
    message.type === "append" ||
    message.type === "heartbeat" ||
    message.type === "snapshot" ||
    message.type === "timeoutNow"
  );
}
