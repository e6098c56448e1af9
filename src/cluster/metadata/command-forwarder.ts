/**
 * How a follower hands a metadata command to the group's leader: Raft appends only on the
 * leader (docs/RAFT.md, "Inputs"), so a client on a follower has its command carried there.
 * The leader proposes it as its own (ReplicatedCommands.serveForwarded) and answers once it
 * is committed and applied there, with the index and term it was applied at; the follower
 * then waits until its own state has applied that index before it answers its client.
 *
 * Tests use an in-memory forwarder; the cluster's TCP transport carries the same bytes and
 * the same JSON-safe reply between nodes.
 */
import type { NodeId, ProposeRefusal } from "../../raft/index.js";
import type { ProposalRefusal } from "../proposal-outcome.js";
import type { MetadataReply } from "./metadata-codec.js";

/** The leader's answer to a forwarded command. JSON-safe. */
export type ForwardReply =
  /** Committed and applied on the leader at this index and term; its reply as wire data. */
  | {
      readonly ok: true;
      readonly index: number;
      readonly term: number;
      readonly result: MetadataReply;
    }
  /**
   * Not applied: `notLeader` (leaderId: who is, if known), the leader was busy
   * (`tooManyUncommitted`, `transferring`, `leaderNotReady`), its leadership was `lost`
   * before the entry committed (never applied: safe to retry), or the outcome is
   * `unknown` there (the entry may yet be committed).
   */
  | {
      readonly ok: false;
      readonly reason: ProposalRefusal | ProposeRefusal | "lost" | "unknown";
      readonly leaderId: NodeId | null;
    };

export interface CommandForwarder {
  /**
   * Sends a command (its log-entry bytes) to the node believed to lead and resolves with its
   * answer. Rejects with a ForwardFailedError when the answer cannot come: `sent` says
   * whether the command may have reached the leader (then it may still be applied).
   */
  forward(leaderId: NodeId, command: Uint8Array): Promise<ForwardReply>;
}

/** What a forwarder's receiving end calls on the leader's node. */
export type ForwardedCommandHandler = (command: Uint8Array) => Promise<ForwardReply>;

/** A forward that got no answer. */
export class ForwardFailedError extends Error {
  constructor(
    message: string,
    /** Whether the command may have reached the leader (and may yet be applied). */
    readonly sent: boolean,
  ) {
    super(message);
    this.name = "ForwardFailedError";
  }
}
