import type { Queue } from "../../queue/queue-type.js";
import type { QuorumChangeResult, QuorumQueueStatus } from "../../quorum/quorum-admin.js";
import type { ClusterView } from "../cluster-view.js";
import type { Json } from "./format.js";

/** Where a queue's replicas are, as the queue objects and list_queues show them. */
export interface QueueReplicas {
  /** The node serving the queue now (a quorum queue's leader; null while it has none). */
  readonly leader: string | null;
  readonly members: readonly string[];
  readonly online: readonly string[];
}

/**
 * The nodes this node reaches now, itself included (every member of a one-node cluster),
 * for the `online` of classic queues.
 */
export function reachableNodes(thisNode: string, view: ClusterView | undefined): Set<string> {
  const out = new Set([thisNode]);
  for (const m of view?.members ?? []) if (m.reachable) out.add(m.name);
  return out;
}

/**
 * A queue's leader, members and online members: a quorum queue's from its Raft group
 * (QuorumAdmin.status), a classic queue's from its home, the one node it lives on (leader and
 * only member; online while this node reaches it), as RabbitMQ lists classic queues.
 */
export function queueReplicas(
  q: Queue,
  thisNode: string,
  status: QuorumQueueStatus | undefined,
  reachable: ReadonlySet<string>,
): QueueReplicas {
  if (status) return { leader: status.leader, members: status.members, online: status.online };
  const home = q.remote?.node ?? thisNode;
  return { leader: home, members: [home], online: reachable.has(home) ? [home] : [] };
}

/** RabbitMQ's readable name of a queue (rabbit_misc:rs): "queue 'q' in vhost '/'". */
export function readableQueueName(vhost: string, name: string): string {
  return `queue '${name}' in vhost '${vhost}'`;
}

/** A quorum queue's status as /api/warren/quorum-status answers it (warrenctl quorum_status). */
export function quorumStatusJson(s: QuorumQueueStatus, thisNode: string): Json {
  return {
    node: thisNode,
    vhost: s.vhost,
    name: s.name,
    leader: s.leader,
    members: [...s.members],
    online: [...s.online],
    has_majority: s.hasMajority,
    machine_version: s.machineVersion ?? null,
    local: s.local
      ? {
          role: s.local.role,
          term: s.local.term,
          commit_index: s.local.commitIndex,
          last_applied: s.local.appliedIndex,
          snapshot_index: s.local.snapshotIndex,
          last_index: s.local.lastIndex,
        }
      : null,
    member_details: s.memberDetails.map((m) => ({
      node: m.node,
      online: m.online,
      role: m.role,
      membership: m.membership ?? "voter",
      match_index: m.matchIndex ?? null,
      raft: m.raft
        ? {
            term: m.raft.term,
            commit_index: m.raft.commitIndex,
            last_applied: m.raft.appliedIndex,
            snapshot_index: m.raft.snapshotIndex,
            last_index: m.raft.lastIndex,
          }
        : null,
    })),
  };
}

/** One queue's line of a grow, shrink or rebalance answer (rabbitmq-queues' vhost, name, size, result). */
export function changeResultJson(r: QuorumChangeResult, size: number | undefined): Json {
  return {
    vhost: r.vhost,
    name: r.name,
    size: r.size ?? size ?? null,
    result: r.ok ? "ok" : r.result.startsWith("error") ? r.result : `error: ${r.result}`,
    ok: r.ok,
  };
}
