/**
 * A caller's view of one group on this node, typed by what its state machine returns: the
 * metadata group hands out one of these, a quorum queue another.
 */
import type { GroupId, MembershipChange, NodeId, RaftStatus } from "../raft/index.js";
import type { OutcomeCallback, ProposalOutcome, ProposalReceipt } from "./proposal-outcome.js";
import type { RaftDriver } from "./raft-driver.js";

export class RaftGroupHandle<R> {
  constructor(
    private readonly driver: RaftDriver,
    readonly groupId: GroupId,
  ) {}

  /** See RaftDriver.propose: onOutcome is called exactly once. */
  propose(command: Uint8Array, onOutcome: OutcomeCallback<R>): ProposalReceipt {
    return this.driver.propose(this.groupId, command, onOutcome as OutcomeCallback);
  }

  /** The outcome of a proposal, as a promise (it never rejects: a failure is an outcome). */
  submit(command: Uint8Array): Promise<ProposalOutcome<R>> {
    return new Promise((resolve) => this.propose(command, resolve));
  }

  changeMembership(change: MembershipChange, onOutcome?: OutcomeCallback<R>): ProposalReceipt {
    return this.driver.changeMembership(this.groupId, change, onOutcome as OutcomeCallback);
  }

  transferLeadership(target: NodeId): ProposalReceipt {
    return this.driver.transferLeadership(this.groupId, target);
  }

  /** Undefined once the group is no longer driven here. */
  status(): RaftStatus | undefined {
    return this.driver.machine(this.groupId)?.status();
  }
}
