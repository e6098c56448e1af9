/**
 * The CommandSubmitter of a node in a cluster: every metadata command goes through the
 * metadata Raft group. On the leader it is proposed here; on a follower it is forwarded to
 * the leader (CommandForwarder). Either way the promise settles only once the command is
 * committed by a majority and applied on THIS node (read your writes): with this node's
 * result, or rejected with the very error LocalCommands throws for the same refusal.
 *
 * A redeclaration of a queue or exchange that exists here is answered at once from this
 * node's definitions (local-answers.ts), as RabbitMQ does: it changes nothing either way.
 *
 * Without a leader (an election, or this node cut off from the majority) it retries every
 * `retryMs` until `timeoutMs` has passed, then rejects with MetadataUnavailableError (506
 * RESOURCE_ERROR, a channel error). A command that was appended but not seen committed in
 * time may still take effect; the error says so.
 */

import { fromTaggedJson } from "../../protocol/field-table-json.js";
import { resolveQuorumSettings } from "../../quorum/quorum-arguments.js";
import { chooseQuorumMembers } from "../../quorum/quorum-placement.js";
import type { NodeId } from "../../raft/index.js";
import type {
  Applied,
  CommandSubmitter,
  Submitted,
} from "../../vhost/commands/command-submitter.js";
import type { MetadataCommand, ResultOf } from "../../vhost/commands/command-types.js";
import type { LimitRefusal } from "../../vhost/limits.js";
import type { OutcomeCallback, ProposalOutcome, ProposalReceipt } from "../proposal-outcome.js";
import type { CommandForwarder, ForwardReply } from "./command-forwarder.js";
import { answerLocally } from "./local-answers.js";
import { encodeCommand, type MetadataReply, replyToWire } from "./metadata-codec.js";
import type { MetadataMachine } from "./metadata-machine.js";
import { Submission } from "./submission.js";
import type { Timers } from "./timers.js";

/** The metadata group as a proposer sees it (a RaftGroupHandle). */
export interface MetadataProposer {
  propose(command: Uint8Array, onOutcome: OutcomeCallback<MetadataReply>): ProposalReceipt;
}

export interface ReplicatedCommandsOptions {
  readonly nodeId: NodeId;
  /** The name new queues declared here take as their home (default: nodeId). */
  readonly homeName?: string;
  /** The cluster's nodes now (the metadata group's voters): where quorum replicas may go. */
  readonly clusterNodes?: () => readonly string[];
  /** How many quorum queues each node leads, as this node knows (the balanced locator). */
  readonly quorumLeaders?: () => ReadonlyMap<string, number>;
  readonly group: MetadataProposer;
  readonly machine: MetadataMachine;
  readonly forwarder: CommandForwarder;
  /** Counts a refusal by a limit, as LocalCommands does through its runner. */
  readonly refusedByLimit?: (limit: LimitRefusal) => void;
  /** The runtime's (REAL_TIMERS), or a test's clock. */
  readonly timers: Timers;
  /** How long a submit may wait for a leader and the commit (default 10 s). */
  readonly timeoutMs?: number;
  /** The pause before asking again when no leader is known (default 50 ms). */
  readonly retryMs?: number;
}

/** What this node's submits did, for status and metrics. */
export interface ReplicatedCommandsStats {
  /** Commands submitted here that went to the group. */
  submitted: number;
  /** Redeclarations answered from this node's state. */
  answeredLocally: number;
  /** Forwards sent to a leader (retries count again). */
  forwarded: number;
  /** Commands forwarded here by followers while this node led. */
  served: number;
  /** Submits that failed with MetadataUnavailableError. */
  unavailable: number;
}

export const DEFAULT_SUBMIT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_MS = 50;

export class ReplicatedCommands implements CommandSubmitter {
  readonly timeoutMs: number;
  readonly retryMs: number;
  readonly timers: Timers;
  readonly stats: ReplicatedCommandsStats = {
    submitted: 0,
    answeredLocally: 0,
    forwarded: 0,
    served: 0,
    unavailable: 0,
  };

  constructor(readonly options: ReplicatedCommandsOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.timers = options.timers;
  }

  submit<C extends MetadataCommand>(command: C): Submitted<ResultOf<C>> {
    const local = answerLocally(this.options.machine.replica.state, command);
    if (local !== undefined) {
      this.stats.answeredLocally++;
      if (!local.ok) throw local.error;
      return { result: local.result, version: undefined, messagesDropped: 0 };
    }
    this.stats.submitted++;
    const home = this.options.homeName ?? this.options.nodeId;
    const bytes = encodeCommand(withMembers(withHome(command, home), home, this.options));
    return new Promise<Applied<ResultOf<C>>>((resolve, reject) => {
      new Submission(this, bytes, {
        applied: (reply) => resolve(reply as Applied<ResultOf<C>>),
        refused: (error, limit) => {
          if (limit !== undefined) this.options.refusedByLimit?.(limit);
          reject(error);
        },
        failed: (error) => {
          this.stats.unavailable++;
          reject(error);
        },
      }).start();
    });
  }

  /**
   * The leader's side of a forward: proposes the command as its own and answers once it is
   * applied here (or why it was not). Never forwards again: a node that is not the leader
   * says so, with the leader it knows, and the follower asks that one.
   */
  serveForwarded(command: Uint8Array): Promise<ForwardReply> {
    this.stats.served++;
    return new Promise((resolve) => {
      this.options.group.propose(command, (outcome) => resolve(forwardReplyOf(outcome)));
    });
  }
}

/**
 * A new queue lives on the node whose client declared it (RabbitMQ's classic queues): the
 * submitting node names itself, unless the command already names a home.
 */
function withHome<C extends MetadataCommand>(command: C, home: string): C {
  if (command.type !== "queue.declare" || command.home !== undefined) return command;
  return { ...command, home };
}

/**
 * A durable, shared queue may be (or, by the vhost's default type, become) a quorum queue:
 * the submitting node picks its members from the cluster's nodes, so every node builds the
 * same group. Other queue types ignore them.
 */
function withMembers<C extends MetadataCommand>(
  command: C,
  home: string,
  options: Pick<ReplicatedCommandsOptions, "clusterNodes" | "quorumLeaders">,
): C {
  if (command.type !== "queue.declare" || command.members !== undefined) return command;
  const { clusterNodes, quorumLeaders } = options;
  if (!command.durable || command.exclusive || command.autoDelete || clusterNodes === undefined)
    return command;
  // The declaration's own arguments (a policy's locator is not known to the submitter).
  const { initialGroupSize, leaderLocator } = resolveQuorumSettings(
    fromTaggedJson(command.arguments),
  );
  const balanced = leaderLocator === "balanced";
  const members = chooseQuorumMembers(
    home,
    clusterNodes(),
    initialGroupSize,
    command.queue,
    leaderLocator,
    balanced ? quorumLeaders?.() : undefined,
  );
  return { ...command, members };
}

function forwardReplyOf(outcome: ProposalOutcome<MetadataReply>): ForwardReply {
  switch (outcome.status) {
    case "applied":
      return {
        ok: true,
        index: outcome.index,
        term: outcome.term,
        result: replyToWire(outcome.result),
      };
    case "refused":
      return { ok: false, reason: outcome.reason, leaderId: outcome.leaderId };
    case "lost":
      return { ok: false, reason: "lost", leaderId: null };
    case "unknown":
      return { ok: false, reason: "unknown", leaderId: null };
  }
}
