/** The public API of the Raft driver. See docs/RAFT.md, "The driver". */

export type { GroupSpec } from "./driven-group.js";
export { DEFAULT_SNAPSHOT_EVERY_ENTRIES } from "./driven-group.js";
export type { MessageReceiver, PeerTransport } from "./peer-transport.js";
export type {
  OutcomeCallback,
  ProposalOutcome,
  ProposalReceipt,
  ProposalRefusal,
  UnknownOutcomeReason,
} from "./proposal-outcome.js";
export type {
  DriverBatch,
  MachineFactory,
  RaftDriverConfig,
  RaftDriverObserver,
  RaftDriverStats,
} from "./raft-driver.js";
export { RaftDriver } from "./raft-driver.js";
export { RaftGroupHandle } from "./raft-group-handle.js";
export type { RaftLogWriter, SyncCallback } from "./raft-log-writer.js";
export { logWriterOf } from "./raft-log-writer.js";
export type { ReplicatedStateMachine } from "./replicated-state-machine.js";
export type { TickSource } from "./tick-source.js";
