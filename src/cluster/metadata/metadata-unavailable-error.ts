/**
 * A metadata change this node could not get through the metadata group: no leader within the
 * bounded wait (this node is cut off from a majority, or an election is taking long), the
 * group's log failed here, or the change's fate cannot be known here. The environment, not
 * the request: 506 RESOURCE_ERROR, a channel error (the client may retry on a new channel;
 * the connection and its other channels stay), as a failed definitions save answers on one
 * node. The management API answers it as it answers any AMQP refusal.
 */
import { AmqpError, replyText } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";

export type UnavailableReason =
  /** No leader took the command within the wait; it was never appended. */
  | "noLeader"
  /** Appended or forwarded, but not committed within the wait: it may still take effect. */
  | "notCommitted"
  /** This node cannot learn whether it was committed (a snapshot replaced the log, the reply was lost). */
  | "unknown"
  /** The metadata group is not running on this node (stopped, or its Raft log failed). */
  | "stopped";

export class MetadataUnavailableError extends AmqpError {
  constructor(
    readonly reason: UnavailableReason,
    detail: string,
  ) {
    super(ReplyCode.RESOURCE_ERROR, replyText(ReplyCode.RESOURCE_ERROR, detail), 0, 0, "channel");
    this.name = "MetadataUnavailableError";
  }
}
