/** Metadata on Raft: the public API. See docs/CLUSTER.md, "Metadata on Raft". */

export type {
  CommandForwarder,
  ForwardedCommandHandler,
  ForwardReply,
} from "./command-forwarder.js";
export { ForwardFailedError } from "./command-forwarder.js";
export type { MetadataReply, QueueRef, RefusalData } from "./metadata-codec.js";
export {
  decodeCommand,
  encodeCommand,
  refusalData,
  refusalError,
  replyToWire,
} from "./metadata-codec.js";
export type { MetadataGroup, MetadataGroupConfig } from "./metadata-group.js";
export { METADATA_GROUP_ID, startMetadataGroup } from "./metadata-group.js";
export type { AppliedAt, MetadataReplica } from "./metadata-machine.js";
export { MetadataMachine } from "./metadata-machine.js";
export type { UnavailableReason } from "./metadata-unavailable-error.js";
export { MetadataUnavailableError } from "./metadata-unavailable-error.js";
export type {
  MetadataProposer,
  ReplicatedCommandsOptions,
  ReplicatedCommandsStats,
} from "./replicated-commands.js";
export {
  DEFAULT_RETRY_MS,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  ReplicatedCommands,
} from "./replicated-commands.js";
export type { Timers } from "./timers.js";
export { REAL_TIMERS } from "./timers.js";
