/** Counts the answers to one (pre-)election among the voters of the current membership. */
import { quorumSize } from "./membership.js";
import type { Membership, NodeId } from "./types.js";

export type ElectionOutcome = "won" | "lost" | "pending";

export class VoteTally {
  private readonly answers = new Map<NodeId, boolean>();

  constructor(private readonly membership: Membership) {}

  /** Records a voter's answer; the first answer from each voter counts, later ones are ignored. */
  record(voter: NodeId, granted: boolean): void {
    if (!this.membership.voters.includes(voter)) return;
    if (!this.answers.has(voter)) this.answers.set(voter, granted);
  }

  outcome(): ElectionOutcome {
    let granted = 0;
    let rejected = 0;
    for (const answer of this.answers.values()) {
      if (answer) granted++;
      else rejected++;
    }
    const quorum = quorumSize(this.membership);
    if (granted >= quorum) return "won";
    if (rejected > this.membership.voters.length - quorum) return "lost";
    return "pending";
  }
}
