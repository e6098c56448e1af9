/**
 * Changing a quorum queue's members while it runs (rabbitmq-queues add_member, delete_member,
 * grow, shrink), done by the group's leader one change at a time (Raft dissertation §4.1):
 *
 * - add: the node joins as a learner (it starts its replica when the leader's first message
 *   reaches it: QuorumService.adoptGroup), and gets its vote once it has caught up;
 * - delete: the node is removed (a leader removing itself steps down once that commits); the
 *   removed node drops its replica when it applies its removal.
 *
 * The answer is null when done, else the reason in words.
 */
import type { ProposalOutcome } from "../proposal-outcome.js";
import type { RaftDriver } from "../raft-driver.js";

/** How long a new member may take to catch up before add_member gives up. */
const CATCH_UP_TIMEOUT_MS = 60_000;
const PROMOTE_RETRY_MS = 200;

/** add_member, delete_member, or a leadership handed to another member (rebalance). */
export type MemberChange = "add" | "delete" | "transfer";

export async function changeMember(
  driver: RaftDriver,
  groupId: string,
  change: MemberChange,
  node: string,
): Promise<string | null> {
  const status = driver.machine(groupId)?.status();
  if (status === undefined) return "this node holds no replica of the queue";
  if (status.role !== "leader")
    return `this node does not lead the queue (leader: ${status.leaderId ?? "none"})`;
  const { voters, learners } = status.membership;
  if (change === "transfer") {
    if (!voters.includes(node)) return `${node} is not a voting member`;
    const receipt = driver.transferLeadership(groupId, node);
    return receipt.ok ? null : (receipt.detail ?? receipt.reason);
  }
  if (change === "delete") {
    if (!voters.includes(node) && !learners.includes(node)) return `${node} is not a member`;
    if (voters.length === 1 && voters[0] === node) return "the last member cannot be removed";
    return outcomeText(await propose(driver, groupId, { type: "removeNode", nodeId: node }));
  }
  if (voters.includes(node)) return `${node} is already a member`;
  if (!learners.includes(node)) {
    const added = outcomeText(await propose(driver, groupId, { type: "addLearner", nodeId: node }));
    if (added !== null) return added;
  }
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  for (;;) {
    const outcome = await propose(driver, groupId, { type: "promoteLearner", nodeId: node });
    if (outcome.status !== "refused" || outcome.reason !== "learnerNotCaughtUp")
      return outcomeText(outcome);
    if (Date.now() > deadline)
      return `${node} did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s; it stays a non-voting member`;
    await new Promise((r) => setTimeout(r, PROMOTE_RETRY_MS));
  }
}

function propose(
  driver: RaftDriver,
  groupId: string,
  change: Parameters<RaftDriver["changeMembership"]>[1],
): Promise<ProposalOutcome> {
  return new Promise((resolve) => driver.changeMembership(groupId, change, resolve));
}

function outcomeText(outcome: ProposalOutcome): string | null {
  switch (outcome.status) {
    case "applied":
      return null;
    case "refused":
      return outcome.detail ?? outcome.reason;
    case "lost":
      return "the leader lost its leadership before the change committed";
    case "unknown":
      return `the change's outcome is unknown (${outcome.reason})`;
  }
}
