/**
 * What operators see of this node's quorum queues and what they may change (QuorumAdmin):
 * each queue's members, leader and reachable members from this node's view, this node's
 * replica's Raft figures; member changes (add_member, delete_member, grow, shrink: done by
 * each queue's leader, quorum-membership.ts) and leadership moves (rebalance).
 */
import type {
  QuorumAdmin,
  QuorumChangeResult,
  QuorumMemberStatus,
  QuorumQueueStatus,
} from "../../quorum/quorum-admin.js";
import type { QuorumQueue } from "./quorum-queue.js";
import type { QuorumService } from "./quorum-service.js";

const STOPPED = "this node's quorum queues are not running (the app is stopped)";

export class QuorumOperations implements QuorumAdmin {
  /** The service of the runtime that runs now (a start_app makes a new one). */
  constructor(private readonly current: () => QuorumService | undefined) {}

  private get service(): QuorumService {
    const service = this.current();
    if (service === undefined) throw new Error(STOPPED);
    return service;
  }

  list(): QuorumQueueStatus[] {
    if (this.current() === undefined) return [];
    return this.service.list().map(({ queue }) => this.statusOf(queue));
  }

  status(vhost: string, name: string): QuorumQueueStatus | undefined {
    if (this.current() === undefined) return undefined;
    const queue = this.service.find(vhost, name);
    return queue === undefined ? undefined : this.statusOf(queue);
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

  async addMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult> {
    return this.change(vhost, name, "add", node);
  }

  async deleteMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult> {
    return this.change(vhost, name, "delete", node);
  }

  /** Adds node to every matching queue it is missing from (`even`: only those with an even size). */
  async grow(
    node: string,
    strategy: "all" | "even",
    vhostPattern: string,
    queuePattern: string,
  ): Promise<QuorumChangeResult[]> {
    const vhostRe = new RegExp(vhostPattern || ".*");
    const queueRe = new RegExp(queuePattern || ".*");
    const results: QuorumChangeResult[] = [];
    for (const s of this.list()) {
      if (!vhostRe.test(s.vhost) || !queueRe.test(s.name) || s.members.includes(node)) continue;
      if (strategy === "even" && s.members.length % 2 !== 0) continue;
      results.push(await this.change(s.vhost, s.name, "add", node));
    }
    return results;
  }

  /** Removes node from every queue it is a member of (never a queue's last member). */
  async shrink(node: string): Promise<QuorumChangeResult[]> {
    const results: QuorumChangeResult[] = [];
    for (const s of this.list()) {
      if (!s.members.includes(node)) continue;
      results.push(await this.change(s.vhost, s.name, "delete", node));
    }
    return results;
  }

  private async change(
    vhost: string,
    name: string,
    change: "add" | "delete",
    node: string,
  ): Promise<QuorumChangeResult> {
    if (this.current() === undefined) return { vhost, name, ok: false, result: STOPPED };
    const queue = this.service.find(vhost, name);
    if (queue === undefined) return { vhost, name, ok: false, result: "no such quorum queue" };
    if (change === "add" && !this.service.isClusterNode(node))
      return { vhost, name, ok: false, result: `${node} is not a node of this cluster` };
    const error = await this.service.changeMember(queue, change, node);
    const size = this.statusOf(queue).members.length;
    return error === null
      ? { vhost, name, ok: true, result: "ok", size }
      : { vhost, name, ok: false, result: error, size };
  }

  /**
   * Moves leaders so that no node leads more than its share: each queue whose leader's node
   * leads too many hands its leadership to the member leading the fewest. The share is of
   * the queues whose leader this node knows (every queue it holds a replica of, and those
   * whose leader it was told); run it on a node that holds replicas of all of them.
   */
  async rebalance(vhostPattern: string, queuePattern: string): Promise<QuorumChangeResult[]> {
    const vhostRe = new RegExp(vhostPattern || ".*");
    const queueRe = new RegExp(queuePattern || ".*");
    const all = this.list().filter((s) => s.leader !== null);
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
