import type {
  QuorumAdmin,
  QuorumChangeResult,
  QuorumQueueStatus,
} from "../../../src/quorum/quorum-admin.js";
import type { Broker } from "../../../src/vhost/broker.js";
import { SELF } from "../../support/fake-cluster.js";

// A QuorumAdmin as the quorum runtime would give it, for the operator's outputs in unit tests:
// statuses the test sets, membership verbs that change them as the runtime would (and record
// what they were asked), no Raft behind.

export const B = "warren@b";
export const C = "warren@c";

/** A healthy three-member queue led by `leader`, seen from SELF (which holds a replica). */
export function healthy(
  name: string,
  leader = SELF,
  extra: Partial<QuorumQueueStatus> = {},
): QuorumQueueStatus {
  const members = [SELF, B, C];
  return {
    vhost: "/",
    name,
    leader,
    members,
    online: members,
    hasMajority: true,
    local: {
      role: leader === SELF ? "leader" : "follower",
      term: 3,
      commitIndex: 120,
      appliedIndex: 120,
      snapshotIndex: 100,
      lastIndex: 121,
      commitLatencyMs: 2,
    },
    machineVersion: 1,
    memberDetails: members.map((node) => ({
      node,
      online: true,
      role: node === leader ? "leader" : "follower",
      matchIndex: leader === SELF ? (node === SELF ? 121 : 120) : undefined,
    })),
    ...extra,
  };
}

/** `q` with `down` offline as seen from SELF. */
export function withOffline(q: QuorumQueueStatus, down: readonly string[]): QuorumQueueStatus {
  const online = q.members.filter((m) => !down.includes(m));
  const hasMajority = online.length > q.members.length / 2;
  return {
    ...q,
    online,
    hasMajority,
    leader: hasMajority ? q.leader : null,
    memberDetails: q.memberDetails.map((m) =>
      down.includes(m.node) ? { ...m, online: false, role: "unknown" } : m,
    ),
  };
}

export class FakeQuorumAdmin implements QuorumAdmin {
  readonly calls: string[] = [];
  private readonly queues = new Map<string, QuorumQueueStatus>();

  constructor(statuses: readonly QuorumQueueStatus[] = []) {
    for (const s of statuses) this.set(s);
  }

  set(s: QuorumQueueStatus): void {
    this.queues.set(`${s.vhost}/${s.name}`, s);
  }

  list(): QuorumQueueStatus[] {
    return [...this.queues.values()];
  }

  status(vhost: string, name: string): QuorumQueueStatus | undefined {
    return this.queues.get(`${vhost}/${name}`);
  }

  async addMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult> {
    this.calls.push(`addMember ${vhost} ${name} ${node}`);
    const q = this.status(vhost, name);
    if (!q) return { vhost, name, ok: false, result: "classic_queue_not_supported" };
    if (node === "warren@gone") return { vhost, name, ok: false, result: "node_not_running" };
    this.set({ ...q, members: [...q.members, node], online: [...q.online, node] });
    return { vhost, name, ok: true, result: "ok" };
  }

  async deleteMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult> {
    this.calls.push(`deleteMember ${vhost} ${name} ${node}`);
    const q = this.status(vhost, name);
    if (!q) return { vhost, name, ok: false, result: "classic_queue_not_supported" };
    if (q.members.length === 1 && q.members[0] === node)
      return { vhost, name, ok: false, result: "the last node cannot be removed" };
    this.set({ ...q, members: q.members.filter((m) => m !== node) });
    return { vhost, name, ok: true, result: "ok" };
  }

  async grow(
    node: string,
    strategy: "all" | "even",
    vhostPattern: string,
    queuePattern: string,
  ): Promise<QuorumChangeResult[]> {
    this.calls.push(`grow ${node} ${strategy} ${vhostPattern} ${queuePattern}`);
    const out: QuorumChangeResult[] = [];
    for (const q of this.list()) {
      if (!new RegExp(vhostPattern).test(q.vhost) || !new RegExp(queuePattern).test(q.name))
        continue;
      if (q.members.includes(node)) continue;
      if (strategy === "even" && q.members.length % 2 !== 0) continue;
      out.push(await this.addMember(q.vhost, q.name, node));
    }
    return out;
  }

  async shrink(node: string): Promise<QuorumChangeResult[]> {
    this.calls.push(`shrink ${node}`);
    const out: QuorumChangeResult[] = [];
    for (const q of this.list()) {
      if (q.members.includes(node)) out.push(await this.deleteMember(q.vhost, q.name, node));
    }
    return out;
  }

  async rebalance(vhostPattern: string, queuePattern: string): Promise<QuorumChangeResult[]> {
    this.calls.push(`rebalance ${vhostPattern} ${queuePattern}`);
    const nodes = [SELF, B, C];
    return this.list().map((q, i) => {
      this.set({ ...q, leader: nodes[i % nodes.length]! });
      return { vhost: q.vhost, name: q.name, ok: true, result: "ok" };
    });
  }

  quorumCritical(node = SELF): QuorumQueueStatus[] {
    return this.list().filter(
      (q) => q.members.includes(node) && q.online.length <= Math.floor(q.members.length / 2) + 1,
    );
  }
}

/** Declares each queue of the statuses in the broker, as the metadata group would. */
export function declareQueues(broker: Broker, statuses: readonly QuorumQueueStatus[]): void {
  for (const s of statuses) {
    broker.submitNow({
      type: "queue.declare",
      vhost: s.vhost,
      queue: s.name,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
  }
}
