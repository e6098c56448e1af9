/** The public API of Warren's Raft core. See docs/RAFT.md. */

export type { MembershipChange } from "./membership.js";
export {
  applyMembershipChange,
  decodeMembership,
  encodeMembership,
  isMember,
  isVoter,
  quorumSize,
} from "./membership.js";
export type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  RaftMessage,
  RaftMessageType,
  SnapshotRequest,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from "./messages.js";
export type { GroupId, GroupMessage, GroupReady, GroupSetReady } from "./raft-group-set.js";
export { RaftGroupSet } from "./raft-group-set.js";
export { RaftMachine } from "./raft-machine.js";
export type { RaftOptions } from "./raft-options.js";
export { DEFAULT_RAFT_OPTIONS, raftOptions } from "./raft-options.js";
export type { ProposeRefusal, ProposeResult, RaftStatus, Role } from "./raft-status.js";
export type { Ready } from "./ready.js";
export { isEmptyReady } from "./ready.js";
export type {
  EntryKind,
  HardState,
  LogEntry,
  Membership,
  NodeId,
  PersistedState,
  Snapshot,
  SnapshotMeta,
} from "./types.js";
export {
  EMPTY_HARD_STATE,
  EMPTY_MEMBERSHIP,
  entrySizeBytes,
  initialPersistedState,
} from "./types.js";
