/**
 * The vocabulary of Warren's Raft core: node ids, log entries, the hard state a node must
 * persist, and snapshot metadata. Everything here is plain data so that it crosses the
 * runtime/core boundary (disk, network, simulator) without translation.
 */

/** A node's stable identity inside one cluster, e.g. "rabbit@host-1". */
export type NodeId = string;

/** What a log entry carries. Raft replicates all three the same way. */
export type EntryKind =
  /** An application command: a quorum-queue or metadata operation, opaque to Raft. */
  | "command"
  /** The empty entry a new leader appends so it can commit earlier terms (Raft §5.4.2, §8). */
  | "noop"
  /** A full membership configuration (Raft dissertation §4.1: one voter change at a time). */
  | "membership";

export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/**
 * What must be on stable storage before a node answers anyone (Raft Figure 2, "Persistent
 * state on all servers"). commitIndex is kept too so a restarted node can re-apply its log
 * without waiting for the leader; losing it is safe, only slower.
 */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly commitIndex: number;
}

/** Voters decide elections and commits; learners only receive the log (dissertation §4.2.1). */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** The last entry a snapshot replaces, and the configuration in force at that entry (Raft §7). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine image at meta.index; opaque to Raft. */
  readonly data: Uint8Array;
}

/** What a node recovers from its log store when it starts. */
export interface PersistedState {
  readonly hardState: HardState;
  /** The latest snapshot, or a bootstrap snapshot at index 0 holding the initial membership. */
  readonly snapshot: Snapshot;
  /** Entries after snapshot.meta.index, contiguous. */
  readonly entries: readonly LogEntry[];
}

export const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: 0 };
export const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };
const NO_DATA = new Uint8Array(0);

/**
 * The state of a brand-new node. Nodes of the founding cluster all start from the same
 * membership, written as a snapshot at index 0 so that their logs agree from the first entry.
 * A node that joins later starts with EMPTY_MEMBERSHIP and learns the real one from its leader.
 */
export function initialPersistedState(membership: Membership = EMPTY_MEMBERSHIP): PersistedState {
  return {
    hardState: EMPTY_HARD_STATE,
    snapshot: { meta: { index: 0, term: 0, membership }, data: NO_DATA },
    entries: [],
  };
}

/** Bytes an entry costs in flow-control budgets: its payload plus a fixed header estimate. */
export function entrySizeBytes(entry: LogEntry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}
const ENTRY_OVERHEAD_BYTES = 24;
