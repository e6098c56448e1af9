/**
 * One metadata command on its way through the group, from a node's point of view: propose
 * it here, or forward it to the leader this node knows, retry while no leader is known,
 * wait until this node applied it, and settle exactly once, within the submit's bound.
 */
import type { NodeId } from "../../raft/index.js";
import type { Applied } from "../../vhost/commands/command-submitter.js";
import type { Refusal } from "../../vhost/commands/effects.js";
import type { LimitRefusal } from "../../vhost/limits.js";
import type { ProposalOutcome, ProposalRefusal } from "../proposal-outcome.js";
import { ForwardFailedError, type ForwardReply } from "./command-forwarder.js";
import { type MetadataReply, type QueueRef, refusalError } from "./metadata-codec.js";
import type { AppliedAt } from "./metadata-machine.js";
import { MetadataUnavailableError, type UnavailableReason } from "./metadata-unavailable-error.js";
import type { ReplicatedCommands } from "./replicated-commands.js";

export interface SubmissionCallbacks {
  applied(applied: Applied<unknown>): void;
  refused(error: Refusal, limit: LimitRefusal | undefined): void;
  failed(error: Error): void;
}

/** Refusals that say this node's group is not running: no point in asking again. */
const STOPPED: ReadonlySet<ProposalRefusal> = new Set(["stopped", "logFailed", "noSuchGroup"]);

export class Submission {
  private settled = false;
  /** Whether the command may be in some node's log now (a timeout then cannot say "not made"). */
  private inFlight = false;
  /** What the last attempt learned, for the error a timeout gives. */
  private lastWord = "no leader known yet";
  /** A leader named by a node that refused a forward, tried when ours still names that node. */
  private hint: { readonly refusedBy: NodeId; readonly leaderId: NodeId } | null = null;
  private cancelDeadline = () => {};
  private cancelRetry = () => {};
  private cancelWait = () => {};

  constructor(
    private readonly commands: ReplicatedCommands,
    private readonly bytes: Uint8Array,
    private readonly done: SubmissionCallbacks,
  ) {}

  start(): void {
    this.cancelDeadline = this.commands.timers.after(this.commands.timeoutMs, () =>
      this.timedOut(),
    );
    this.attempt();
  }

  private attempt(): void {
    if (this.settled) return;
    const receipt = this.commands.options.group.propose(this.bytes, (o) => this.onOutcome(o));
    if (receipt.ok && !this.settled) {
      this.inFlight = true;
      this.lastWord = `appended at index ${receipt.index} in term ${receipt.term} here, not committed yet`;
    }
  }

  private onOutcome(outcome: ProposalOutcome<MetadataReply>): void {
    if (this.settled) return;
    switch (outcome.status) {
      case "applied":
        this.finish(outcome.result);
        return;
      case "lost":
        // Another term's entry took its index: it never will be applied (safe to retry).
        this.inFlight = false;
        this.lastWord = `this node lost its leadership before index ${outcome.index} committed`;
        this.retryLater();
        return;
      case "unknown":
        this.fail(
          "unknown",
          `the outcome of the change cannot be known on this node (${outcome.reason}); it may have been made`,
        );
        return;
      case "refused":
        this.onRefused(outcome.reason, outcome.leaderId, outcome.detail);
    }
  }

  private onRefused(reason: ProposalRefusal, leaderId: NodeId | null, detail?: string): void {
    const self = this.commands.options.nodeId;
    if (STOPPED.has(reason)) {
      this.fail("stopped", `the metadata group is not running on this node (${detail ?? reason})`);
      return;
    }
    if (reason === "notLeader" && leaderId !== null && leaderId !== self) {
      const hint = this.hint;
      this.forward(hint !== null && hint.refusedBy === leaderId ? hint.leaderId : leaderId);
      return;
    }
    this.lastWord = reason === "notLeader" ? "no leader known" : `the leader is busy (${reason})`;
    this.retryLater();
  }

  private forward(leaderId: NodeId): void {
    this.inFlight = true;
    this.commands.stats.forwarded++;
    this.lastWord = `forwarded to ${leaderId}, no answer yet`;
    this.commands.options.forwarder.forward(leaderId, this.bytes).then(
      (reply) => this.onForwardReply(leaderId, reply),
      (error: Error) => this.onForwardFailed(leaderId, error),
    );
  }

  private onForwardReply(leaderId: NodeId, reply: ForwardReply): void {
    if (this.settled) return;
    if (reply.ok) {
      this.lastWord = `committed at index ${reply.index} by ${leaderId}; this node has not applied it yet`;
      this.cancelWait = this.commands.options.machine.whenApplied(reply.index, (at) =>
        this.onAppliedHere(reply, at),
      );
      return;
    }
    if (reply.reason === "unknown") {
      this.fail(
        "unknown",
        `the outcome of the change cannot be known on the leader ${leaderId}; it may have been made`,
      );
      return;
    }
    this.inFlight = false;
    const named = reply.leaderId;
    this.hint =
      named !== null && named !== leaderId && named !== this.commands.options.nodeId
        ? { refusedBy: leaderId, leaderId: named }
        : null;
    this.lastWord = `${leaderId} did not take it (${reply.reason})`;
    this.retryLater();
  }

  private onForwardFailed(leaderId: NodeId, error: Error): void {
    if (this.settled) return;
    if (error instanceof ForwardFailedError && !error.sent) {
      this.inFlight = false;
      this.lastWord = `could not reach ${leaderId}: ${error.message}`;
      this.retryLater();
      return;
    }
    this.fail(
      "unknown",
      `the leader ${leaderId} did not answer (${error.message}); the change may have been made`,
    );
  }

  private onAppliedHere(reply: ForwardReply & { ok: true }, at: AppliedAt): void {
    if (this.settled) return;
    if (at.kind === "entry") {
      // Raft §5.4: an applied entry is committed, so the term always matches.
      if (at.term === reply.term) this.finish(at.reply);
      else this.fail("unknown", `index ${reply.index} was applied here with another term`);
      return;
    }
    // A snapshot brought this node past the index: the leader's answer stands for ours.
    this.finish(this.localised(reply.result));
  }

  /** A leader's wire reply with the queue it names looked up in this node's state. */
  private localised(reply: MetadataReply): MetadataReply {
    if (!reply.ok) return reply;
    const result = reply.result as { queue?: QueueRef } | null;
    const ref = result?.queue;
    if (ref === undefined) return reply;
    const queue = this.commands.options.machine.replica.state.vhosts
      .get(ref.vhost)
      ?.queues.get(ref.name);
    if (queue?.id === ref.id) return { ...reply, result: { ...result, queue } };
    return { ok: true, result: { ...result, queue: undefined }, messagesDropped: 0 };
  }

  private finish(reply: MetadataReply): void {
    this.settle();
    if (reply.ok)
      this.done.applied({
        result: reply.result,
        // The commit is the durable record: nothing more to wait for (docs/CLUSTER.md).
        version: undefined,
        messagesDropped: reply.messagesDropped,
      });
    else this.done.refused(refusalError(reply.refusal), reply.limit);
  }

  private timedOut(): void {
    if (this.settled) return;
    const ms = this.commands.timeoutMs;
    if (this.inFlight)
      this.fail(
        "notCommitted",
        `the metadata store is unavailable: the change was not committed by a majority within ${ms} ms (${this.lastWord}); it may still take effect`,
      );
    else
      this.fail(
        "noLeader",
        `the metadata store is unavailable: no leader of the metadata group took the change within ${ms} ms (${this.lastWord}); the change was not made`,
      );
  }

  private fail(reason: UnavailableReason, detail: string): void {
    this.settle();
    this.done.failed(new MetadataUnavailableError(reason, detail));
  }

  private retryLater(): void {
    this.cancelRetry();
    this.cancelRetry = this.commands.timers.after(this.commands.retryMs, () => this.attempt());
  }

  private settle(): void {
    this.settled = true;
    this.cancelDeadline();
    this.cancelRetry();
    this.cancelWait();
  }
}
