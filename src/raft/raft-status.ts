/** What a RaftMachine reports about itself and answers to requests. */
import type { Membership, NodeId } from "./types.js";

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export type ProposeRefusal =
  | "notLeader"
  | "transferring"
  | "tooManyUncommitted"
  | "membershipChangePending"
  | "leaderNotReady"
  | "learnerNotCaughtUp"
  | "invalidMembershipChange";

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ProposeRefusal;
      readonly leaderId: NodeId | null;
      readonly detail?: string;
    };

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly stableIndex: number;
  readonly membership: Membership;
  readonly transferee: NodeId | null;
}
