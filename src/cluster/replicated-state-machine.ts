/**
 * What a Raft group replicates: an application state machine that the driver feeds committed
 * entries, in index order, as RabbitMQ's ra feeds rabbit_fifo and Khepri. apply must be
 * deterministic (no clock, no randomness, no I/O that can fail differently on two nodes):
 * every member applies the same entries and must reach the same state. Its result goes back
 * to the proposer when the entry was proposed on this node (ProposalOutcome "applied").
 */
import type { LogEntry, Snapshot } from "../raft/index.js";

export interface ReplicatedStateMachine<R = unknown> {
  /**
   * Applies one committed entry and returns its result. Every entry is applied, noop and
   * membership entries too (entry.kind says which; most machines ignore them), so the
   * machine always knows its applied index: the one before entry.index.
   */
  apply(entry: LogEntry): R;
  /** The state after the last applied entry, as bytes; the log up to it may then go (§7). */
  snapshot(): Uint8Array;
  /**
   * Replaces the whole state with a snapshot's: the stored one when the group starts (index
   * 0 and no data for a new group: the empty state) or one installed from the leader.
   */
  restore(snapshot: Snapshot): void;
  /**
   * Whether to snapshot now, `entriesSince` entries after the last snapshot; without it, the
   * group's fixed interval (GroupSpec.snapshotEveryEntries) decides. A machine whose snapshot
   * costs what it holds says yes only once the log since costs as much, so snapshots cost
   * O(1) per applied byte however large the state.
   */
  snapshotDue?(entriesSince: number): boolean;
}
