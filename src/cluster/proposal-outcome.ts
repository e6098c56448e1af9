/**
 * What a caller learns about a command it proposed through the driver. Raft itself answers a
 * proposal with an index and a term (raft-status.ts); the proposal is committed only if the
 * entry applied at that index carries that term (docs/RAFT.md, "Inputs").
 */
import type { NodeId, ProposeRefusal } from "../raft/index.js";

/** Why a proposal was never appended: the core's refusals, or a driver that cannot take it. */
export type ProposalRefusal = ProposeRefusal | "noSuchGroup" | "stopped" | "logFailed";

/** The immediate answer to a proposal: where it was appended, or why it was not. */
export type ProposalReceipt =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ProposalRefusal;
      readonly leaderId: NodeId | null;
      readonly detail?: string;
    };

/** Why the fate of an appended proposal cannot be learned on this node. */
export type UnknownOutcomeReason =
  /** A snapshot from the leader replaced the log past its index: it may be in there or not. */
  | "snapshotInstalled"
  /** The group was removed from this node before its index was applied. */
  | "groupRemoved"
  /** The driver was stopped before its index was applied. */
  | "stopped"
  /** The log failed; the driver stopped (the entry may be committed by the others). */
  | "logFailed";

export type ProposalOutcome<R = unknown> =
  /** Committed by a majority and applied here; result is what the state machine returned. */
  | {
      readonly status: "applied";
      readonly index: number;
      readonly term: number;
      readonly result: R;
    }
  /** Never appended: not the leader (leaderId says who is, if known), too busy, stopped. */
  | {
      readonly status: "refused";
      readonly reason: ProposalRefusal;
      readonly leaderId: NodeId | null;
      readonly detail?: string;
    }
  /**
   * The leader that appended it lost its leadership and another entry was committed at its
   * index: it was not applied and never will be. Safe to retry.
   */
  | {
      readonly status: "lost";
      readonly reason: "lostLeadership";
      readonly index: number;
      readonly term: number;
    }
  /** Appended, but this node cannot tell whether it was committed. */
  | {
      readonly status: "unknown";
      readonly reason: UnknownOutcomeReason;
      readonly index: number;
      readonly term: number;
    };

export type OutcomeCallback<R = unknown> = (outcome: ProposalOutcome<R>) => void;
