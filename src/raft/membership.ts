/**
 * Cluster membership: who votes, who only listens, and what a majority is. Changes go one
 * voter at a time (Raft dissertation §4.1), so any majority of the old configuration overlaps
 * any majority of the new one and no joint consensus is needed.
 */
import type { Membership, NodeId } from "./types.js";

export type MembershipChange =
  /** Start replicating to a new node without giving it a vote (dissertation §4.2.1). */
  | { readonly type: "addLearner"; readonly nodeId: NodeId }
  /** Give a caught-up learner its vote. */
  | { readonly type: "promoteLearner"; readonly nodeId: NodeId }
  /** Remove a voter or a learner. A leader that removes itself steps down once it commits. */
  | { readonly type: "removeNode"; readonly nodeId: NodeId };

export function isVoter(membership: Membership, nodeId: NodeId): boolean {
  return membership.voters.includes(nodeId);
}

export function isMember(membership: Membership, nodeId: NodeId): boolean {
  return membership.voters.includes(nodeId) || membership.learners.includes(nodeId);
}

export function allMembers(membership: Membership): NodeId[] {
  return [...membership.voters, ...membership.learners];
}

/** Votes needed to win an election or commit an entry: a strict majority of voters. */
export function quorumSize(membership: Membership): number {
  return Math.floor(membership.voters.length / 2) + 1;
}

/** The membership after a change, or a sentence explaining why the change is not allowed. */
export function applyMembershipChange(
  membership: Membership,
  change: MembershipChange,
): Membership | string {
  const { nodeId } = change;
  switch (change.type) {
    case "addLearner":
      if (isMember(membership, nodeId)) return `${nodeId} is already a member`;
      return { voters: membership.voters, learners: [...membership.learners, nodeId] };
    case "promoteLearner":
      if (!membership.learners.includes(nodeId)) return `${nodeId} is not a learner`;
      return {
        voters: [...membership.voters, nodeId],
        learners: membership.learners.filter((id) => id !== nodeId),
      };
    case "removeNode":
      if (!isMember(membership, nodeId)) return `${nodeId} is not a member`;
      if (membership.voters.length === 1 && membership.voters[0] === nodeId) {
        return "cannot remove the last voter";
      }
      return {
        voters: membership.voters.filter((id) => id !== nodeId),
        learners: membership.learners.filter((id) => id !== nodeId),
      };
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The payload of a membership log entry. JSON keeps it readable in dumps of the log. */
export function encodeMembership(membership: Membership): Uint8Array {
  return encoder.encode(
    JSON.stringify({ voters: membership.voters, learners: membership.learners }),
  );
}

export function decodeMembership(data: Uint8Array): Membership {
  const parsed = JSON.parse(decoder.decode(data)) as { voters: NodeId[]; learners: NodeId[] };
  if (!Array.isArray(parsed.voters) || !Array.isArray(parsed.learners)) {
    throw new Error("membership entry is malformed");
  }
  return { voters: parsed.voters, learners: parsed.learners };
}
