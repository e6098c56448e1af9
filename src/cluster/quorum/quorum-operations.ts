/**
 * What operators see of this node's quorum queues and what they may change (QuorumAdmin):
 * each queue's members, leader and reachable members from this node's view, this node's
 * replica's Raft figures, and leadership moves (rebalance). Membership changes (add_member,
 * delete_member, grow, shrink) are refused with a reason until replicas can join a running
 * group (docs/QUORUM.md, "Not yet").
 */
import type {
  QuorumAdmin,
  QuorumChangeResult,
  QuorumMemberStatus,
  QuorumQueueStatus,
} from "../../quorum/quorum-admin.js";
import type { QuorumQueue } from "./quorum-queue.js";
import type { QuorumService } from "./quorum-service.js";

const NOT_YET =
  "changing a quorum queue's members while it runs is not supported yet: declare the queue with x-quorum-initial-group-size instead";

export class QuorumOperations implements QuorumAdmin {
  constructor(private readonly service: QuorumService) {}

  list(): QuorumQueueStatus[] {
    return this.service.list().map(({ queue }) => this.statusOf(queue));
  }

  status(vhost: string, name: string): QuorumQueueStatus | undefined {
    const entry = this.service
      .list()
      .find(({ queue }) => queue.definition.vhost === vhost && queue.name === name);
    return entry === undefined ? undefined : this.statusOf(entry.queue);
  }

  private statusOf(queue: QuorumQueue): QuorumQueueStatus {
    const raft = this.service.raftStatus(queue);
    const members = raft?.membership.voters.length
      ? [...raft.membership.voters]
      : [...queue.members];
    const online = members.filter((m) => this.service.reachable(m));
    const leader = this.service.leaderOf(queue);
    const self = this.service.nodeName;
    const memberDetails: QuorumMemberStatus[] = members.map((node) => ({
      node,
      online: online.includes(node),
      role:
        node === leader
          ? "leader"
          : node === self && raft !== undefined
            ? raft.role
            : leader !== null && online.includes(node)
              ? "follower"
              : "unknown",
      matchIndex: undefined,
      membership: "voter",
      ...(node === self && raft !== undefined
        ? {
            raft: {
              term: raft.term,
              commitIndex: raft.commitIndex,
              appliedIndex: raft.appliedIndex,
              snapshotIndex: raft.snapshotIndex,
              lastIndex: raft.lastIndex,
            },
          }
        : {}),
    }));
    return {
      vhost: queue.definition.vhost,
      name: queue.name,
      leader,
      members,
      online,
      hasMajority: online.length > members.length / 2,
      local:
        raft === undefined
          ? undefined
          : {
              role: raft.role,
              term: raft.term,
              commitIndex: raft.commitIndex,
              appliedIndex: raft.appliedIndex,
              snapshotIndex: raft.snapshotIndex,
              lastIndex: raft.lastIndex,
            },
      memberDetails,
    };
  }

  quorumCritical(node?: string): QuorumQueueStatus[] {
    const target = node ?? this.service.nodeName;
    return this.list().filter((s) => {
      if (!s.members.includes(target)) return false;
      const remaining = s.online.filter((m) => m !== target).length;
      return remaining <= s.members.length / 2;
    });
  }

  async addMember(vhost: string, name: string): Promise<QuorumChangeResult> {
    return { vhost, name, ok: false, result: NOT_YET };
  }

  async deleteMember(vhost: string, name: string): Promise<QuorumChangeResult> {
    return { vhost, name, ok: false, result: NOT_YET };
  }

  async grow(): Promise<QuorumChangeResult[]> {
    return this.list().map((s) => ({ vhost: s.vhost, name: s.name, ok: false, result: NOT_YET }));
  }

  async shrink(): Promise<QuorumChangeResult[]> {
    return this.list().map((s) => ({ vhost: s.vhost, name: s.name, ok: false, result: NOT_YET }));
  }

  /**
   * Moves leaders so that no node leads more than its share: each queue whose leader's node
   * leads too many hands its leadership to the member leading the fewest.
   */
  async rebalance(vhostPattern: string, queuePattern: string): Promise<QuorumChangeResult[]> {
    const vhostRe = new RegExp(vhostPattern || ".*");
    const queueRe = new RegExp(queuePattern || ".*");
    const all = this.list();
    const leads = new Map<string, number>();
    const nodes = new Set<string>();
    for (const s of all) {
      for (const m of s.members) nodes.add(m);
      if (s.leader !== null) leads.set(s.leader, (leads.get(s.leader) ?? 0) + 1);
    }
    const share = Math.ceil(all.length / Math.max(1, nodes.size));
    const results: QuorumChangeResult[] = [];
    for (const s of all) {
      if (!vhostRe.test(s.vhost) || !queueRe.test(s.name) || s.leader === null) continue;
      if ((leads.get(s.leader) ?? 0) <= share) continue;
      const target = s.online
        .filter((m) => m !== s.leader)
        .sort((a, b) => (leads.get(a) ?? 0) - (leads.get(b) ?? 0))[0];
      if (target === undefined || (leads.get(target) ?? 0) + 1 > share) continue;
      const result = await this.service.transferLeadership(s.vhost, s.name, target);
      if (result.ok) {
        leads.set(s.leader, (leads.get(s.leader) ?? 0) - 1);
        leads.set(target, (leads.get(target) ?? 0) + 1);
      }
      results.push(result);
    }
    return results;
  }
}
