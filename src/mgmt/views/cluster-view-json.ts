import { VERSION } from "../../version.js";
import type { Alarm } from "../../vhost/alarms.js";
import {
  type ClusterMember,
  type ClusterView,
  isQuorumCritical,
  METADATA_GROUP,
} from "../cluster-view.js";
import type { NodeContext } from "../node-context.js";
import { details, isoTime, type Json, sorted } from "./format.js";

/**
 * The cluster as this node sees it, with this node's own alarms and versions filled in
 * (the runtime's view need not carry them: the node knows its own). A single node is a
 * one-node cluster of itself, with no metadata group: `clustered` says which.
 */
export interface SeenCluster {
  readonly clustered: boolean;
  readonly thisNode: string;
  readonly clusterId?: string;
  readonly members: readonly ClusterMember[];
  readonly partitions: ClusterView["partitions"];
  readonly paused?: ClusterView["paused"];
  readonly metadata?: ClusterView["metadata"];
}

export function seenCluster(
  ctx: NodeContext,
  view: ClusterView | undefined = ctx.cluster?.view(),
): SeenCluster {
  const self: ClusterMember = {
    name: ctx.broker.settings.nodeName,
    clusterAddress: "",
    reachable: true,
    version: VERSION,
    nodejsVersion: process.version,
    alarms: ctx.alarms(),
  };
  if (!view) return { clustered: false, thisNode: self.name, members: [self], partitions: [] };
  // This node is always a member, whatever the runtime listed.
  const listed = view.members.some((m) => m.name === view.thisNode)
    ? view.members
    : [...view.members, { ...self, name: view.thisNode }];
  const members = listed
    .map((m) =>
      m.name === view.thisNode
        ? { ...m, ...self, name: view.thisNode, clusterAddress: m.clusterAddress }
        : m,
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    clustered: true,
    thisNode: view.thisNode,
    clusterId: view.clusterId,
    members,
    partitions: view.partitions,
    paused: view.paused,
    metadata: view.metadata,
  };
}

/** The members this node cannot see, as RabbitMQ's `partitions` of one node. */
export function partitionsOf(seen: SeenCluster, node: string): string[] {
  return [...(seen.partitions.find((p) => p.node === node)?.cannotSee ?? [])];
}

/** Every alarm known, each naming its node. */
export function knownAlarms(seen: SeenCluster): Alarm[] {
  return seen.members.flatMap((m) => m.alarms ?? []);
}

const optionalTime = (key: string, ms: number | undefined): Json =>
  ms === undefined ? {} : { [key]: isoTime(ms) };

/** Warren's own facts about a member, beside RabbitMQ's fields in /api/nodes. */
function memberFacts(m: ClusterMember): Json {
  return {
    cluster_address: m.clusterAddress,
    ...optionalTime("connected_since", m.connectedSinceMs),
    ...optionalTime("last_heard", m.lastHeardMs),
    ...optionalTime("unreachable_since", m.unreachableSinceMs),
    ...(m.clockOffsetMs !== undefined ? { clock_offset_ms: m.clockOffsetMs } : {}),
  };
}

/**
 * A peer in /api/nodes: RabbitMQ's fields for what this node knows of it (running is
 * whether it is reachable from here, as RabbitMQ's is whether it is connected), nothing
 * invented for what it does not (memory, descriptors: a tool sees them absent, as for a
 * RabbitMQ node that is down).
 */
export function peerNodeView(seen: SeenCluster, m: ClusterMember): Json {
  const alarms = m.alarms;
  return sorted({
    name: m.name,
    type: "disc",
    running: m.reachable,
    partitions: partitionsOf(seen, m.name),
    being_drained: false,
    ...(m.version !== undefined
      ? { applications: [{ name: "warren", description: "Warren", version: m.version }] }
      : {}),
    ...(alarms !== undefined
      ? {
          mem_alarm: alarms.some((a) => a.resource === "memory"),
          disk_free_alarm: alarms.some((a) => a.resource === "disk"),
        }
      : {}),
    ...memberFacts(m),
  });
}

/** What this node's own entry in /api/nodes adds in a cluster: partitions and its links. */
export function localClusterFields(seen: SeenCluster): Json {
  const self = seen.members.find((m) => m.name === seen.thisNode);
  return {
    partitions: partitionsOf(seen, seen.thisNode),
    // RabbitMQ's cluster_links: one per connected peer.
    cluster_links: seen.members
      .filter((m) => m.name !== seen.thisNode && m.reachable)
      .map((m) => {
        const [host, port] = splitAddress(m.clusterAddress);
        const bytes =
          m.bytesSent !== undefined && m.bytesReceived !== undefined
            ? {
                send_bytes: m.bytesSent,
                recv_bytes: m.bytesReceived,
                stats: {
                  send_bytes: m.bytesSent,
                  send_bytes_details: details(),
                  recv_bytes: m.bytesReceived,
                  recv_bytes_details: details(),
                },
              }
            : {};
        return { name: m.name, peer_addr: host, peer_port: port, ...bytes };
      }),
    ...(self ? memberFacts(self) : {}),
  };
}

function splitAddress(address: string): [string, number | undefined] {
  const at = address.lastIndexOf(":");
  if (at < 0) return [address, undefined];
  const port = Number(address.slice(at + 1));
  return [address.slice(0, at).replace(/^\[|\]$/g, ""), Number.isFinite(port) ? port : undefined];
}

/** A time as ms since the epoch, or null. */
const ms = (v: number | undefined) => v ?? null;

/**
 * GET /api/warren/cluster: the whole view in one answer, what `warrenctl cluster_status`
 * and `check_if_node_is_quorum_critical` print from.
 */
export function clusterJson(ctx: NodeContext): Json {
  const view = ctx.cluster?.view();
  const seen = seenCluster(ctx, view);
  return {
    clustered: seen.clustered,
    node: seen.thisNode,
    cluster_name: ctx.broker.settings.clusterName,
    cluster_id: seen.clusterId ?? null,
    members: seen.members.map((m) => ({
      name: m.name,
      cluster_address: m.clusterAddress,
      running: m.reachable,
      connected_since_ms: ms(m.connectedSinceMs),
      last_heard_ms: ms(m.lastHeardMs),
      unreachable_since_ms: ms(m.unreachableSinceMs),
      version: m.version ?? null,
      nodejs_version: m.nodejsVersion ?? null,
      clock_offset_ms: m.clockOffsetMs ?? null,
      alarms:
        m.alarms?.map((a) => ({ resource: a.resource, node: a.node, reason: a.reason })) ?? null,
    })),
    partitions: Object.fromEntries(seen.partitions.map((p) => [p.node, [...p.cannotSee]])),
    paused: seen.paused ? { reason: seen.paused.reason, since_ms: seen.paused.sinceMs } : null,
    metadata: seen.metadata
      ? {
          name: METADATA_GROUP,
          role: seen.metadata.role,
          term: seen.metadata.term,
          leader: seen.metadata.leader ?? null,
          voters: [...seen.metadata.voters],
          commit_index: seen.metadata.commitIndex,
          applied_index: seen.metadata.appliedIndex,
          last_index: seen.metadata.lastIndex,
          snapshot_index: seen.metadata.snapshotIndex,
          log_entries: seen.metadata.logEntries ?? null,
          log_bytes: seen.metadata.logBytes ?? null,
          quorum_critical: view ? isQuorumCritical(view) : false,
        }
      : null,
  };
}
