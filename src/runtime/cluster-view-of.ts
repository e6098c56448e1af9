import type { ClusterView, RaftGroupView } from "../mgmt/cluster-view.js";
import { VERSION } from "../version.js";

/** What the cluster runtime reports of itself (ClusterRuntime.status()), as this file reads it. */
export interface ClusterStatusLike {
  readonly nodeName: string;
  readonly members: readonly {
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly self: boolean;
    readonly connectedSinceMs: number | null;
    readonly unreachableSinceMs: number | null;
    readonly bytesSent: number;
    readonly bytesReceived: number;
  }[];
  readonly metadata: {
    readonly role: string;
    readonly term: number;
    readonly leader: string | null;
    readonly voters: readonly string[];
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly snapshotIndex: number;
    readonly lastIndex: number;
  };
  readonly pausedReason: string | undefined;
  readonly pausedSinceMs: number | undefined;
}

/**
 * The operator's view of the cluster (mgmt/cluster-view.ts) from the runtime's status.
 * Partitions: from one node's links alone a peer that is down cannot be told from one cut
 * off, so an unreachable peer is a member with `reachable: false`; only a paused node, which is
 * up and cannot see a majority, reports itself partitioned from the members it cannot reach.
 */
export function clusterViewOf(status: ClusterStatusLike): ClusterView {
  const unreachable = status.members.filter((m) => !m.self && m.connectedSinceMs === null);
  const paused =
    status.pausedReason !== undefined
      ? { reason: status.pausedReason, sinceMs: status.pausedSinceMs ?? 0 }
      : undefined;
  return {
    thisNode: status.nodeName,
    members: status.members.map((m) => ({
      name: m.name,
      clusterAddress: `${m.host.includes(":") ? `[${m.host}]` : m.host}:${m.port}`,
      reachable: m.self || m.connectedSinceMs !== null,
      ...(m.connectedSinceMs !== null && !m.self ? { connectedSinceMs: m.connectedSinceMs } : {}),
      ...(m.unreachableSinceMs !== null ? { unreachableSinceMs: m.unreachableSinceMs } : {}),
      ...(m.self ? { version: VERSION, nodejsVersion: process.version } : {}),
      ...(m.self ? {} : { bytesSent: m.bytesSent, bytesReceived: m.bytesReceived }),
    })),
    partitions:
      paused && unreachable.length > 0
        ? [{ node: status.nodeName, cannotSee: unreachable.map((m) => m.name) }]
        : [],
    ...(paused ? { paused } : {}),
    metadata: metadataView(status.metadata),
  };
}

function metadataView(m: ClusterStatusLike["metadata"]): RaftGroupView {
  return {
    role: m.role as RaftGroupView["role"],
    term: m.term,
    ...(m.leader !== null ? { leader: m.leader } : {}),
    voters: m.voters,
    commitIndex: m.commitIndex,
    appliedIndex: m.appliedIndex,
    lastIndex: m.lastIndex,
    snapshotIndex: m.snapshotIndex,
  };
}
