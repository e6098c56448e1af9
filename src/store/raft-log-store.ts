/**
 * Where Raft groups keep their logs. One store serves every group of a node, so one sync()
 * makes the writes of all groups durable together (one fdatasync per batch). Writes are
 * staged in call order and become visible to load() only once a sync() that began after them
 * has resolved: load() returns what would survive a crash.
 *
 * Every implementation passes test/contract/raft-log-store-contract.ts.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { Membership, PersistedState } from "../raft/types.js";
import type { RaftLogWrite } from "./raft-log-image.js";

export interface RaftLogStore {
  /** Groups with durable state. */
  groupIds(): GroupId[];
  /** A group's durable state, to construct its RaftMachine from. */
  load(groupId: GroupId): PersistedState | undefined;
  /** Stages a new, empty group whose founding membership is given (EMPTY for a joiner). */
  createGroup(groupId: GroupId, membership: Membership): void;
  /** Stages writes to a group's log, applied in order (see RaftLogImage for their meaning). */
  write(groupId: GroupId, writes: readonly RaftLogWrite[]): void;
  /** Stages the removal of a group and everything it stored. */
  dropGroup(groupId: GroupId): void;
  /** Makes everything staged before this call durable. Concurrent calls share one flush. */
  sync(): Promise<void>;
  /** Syncs and releases the store. */
  close(): Promise<void>;
  /**
   * Releases the store without syncing: staged writes are dropped, as in a crash. For
   * shutting down after an I/O error, and for crash tests.
   */
  abandon(): Promise<void>;
}
