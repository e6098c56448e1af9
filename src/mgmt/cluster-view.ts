import type { RaftStatus } from "../raft/index.js";
import type { Alarm } from "../vhost/alarms.js";

/**
 * How the management API, /metrics, the doctor and warrenctl see the cluster this node is
 * part of. The cluster runtime provides it (`NodeContext.cluster`); a single node has none,
 * and every output then looks as it always did: a one-node cluster of itself.
 *
 * Plain data, read-only, a snapshot: each call of `NodeContext.cluster.view()` builds a new
 * one from what the runtime already holds (the transport's links, the metadata group's Raft
 * status, the majority watch), with no I/O and no waiting, so an API request or a scrape may
 * call it freely. What the runtime cannot know is left out (the optional fields), never
 * guessed: an unreachable peer's alarms, a peer's version before it said so.
 */
export interface ClusterView {
  /** This node's name (warren@host); one of `members`. */
  readonly thisNode: string;
  /**
   * RabbitMQ's persistent cluster id (rabbitmq_identity_info's rabbitmq_cluster_permanent_id):
   * chosen once when the cluster formed and the same on every member.
   */
  readonly clusterId?: string;
  /** Every member of the cluster, this node included. */
  readonly members: readonly ClusterMember[];
  /**
   * Partitions as this node knows them: per node, the members it cannot see. At least this
   * node's own entry when it cannot reach a member that the runtime believes is running
   * (RabbitMQ's `partitions` in cluster_status and /api/nodes). A member that is down is not a
   * partition: it is a member with `reachable: false`. Nodes that see everyone are left out.
   */
  readonly partitions: readonly Partition[];
  /** Set while this node is paused because it cannot see a majority (pause_minority). */
  readonly paused?: PausedState;
  /** The metadata Raft group (vhosts, users, queues, bindings...) as this node sees it. */
  readonly metadata: RaftGroupView;
}

/** One member of the cluster, as seen from this node. */
export interface ClusterMember {
  /** warren@host */
  readonly name: string;
  /** Its cluster listener, host:port. */
  readonly clusterAddress: string;
  /** True for this node; for a peer, whether its link is up (this node hears from it). */
  readonly reachable: boolean;
  /** When the current link to it came up (ms since the epoch); absent while it is down. */
  readonly connectedSinceMs?: number;
  /** When this node last heard from it (ms since the epoch), if ever. */
  readonly lastHeardMs?: number;
  /** Since when it has been unreachable from here (ms since the epoch), while it is. */
  readonly unreachableSinceMs?: number;
  /** Its Warren version, once it told us. */
  readonly version?: string;
  /** The Node.js version it runs on, once it told us. */
  readonly nodejsVersion?: string;
  /** Bytes this node sent to it and received from it since start, when the transport counts them. */
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  /** Its clock minus ours in ms (positive: it is ahead), when the transport measured it. */
  readonly clockOffsetMs?: number;
  /**
   * Its resource alarms, when known. This node's own are always known (the management layer
   * takes them from the node itself); an unreachable peer's are not.
   */
  readonly alarms?: readonly Alarm[];
}

/** A node and the members it cannot see. */
export interface Partition {
  readonly node: string;
  readonly cannotSee: readonly string[];
}

export interface PausedState {
  /** Why, in the words the clients got with their 320 (and the health checks answer). */
  readonly reason: string;
  /** Since when (ms since the epoch). */
  readonly sinceMs: number;
}

/** One Raft group on this node: its role and log, as RabbitMQ's ra metrics report them. */
export interface RaftGroupView {
  readonly role: "leader" | "follower" | "candidate" | "preCandidate";
  readonly term: number;
  /** The leader's node name, when one is known. */
  readonly leader?: string;
  /** The voting members' node names (who counts for the majority). */
  readonly voters: readonly string[];
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The last index written to this node's log (RabbitMQ's last_written_index). */
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Entries and bytes held in this node's log for the group, when the store counts them. */
  readonly logEntries?: number;
  readonly logBytes?: number;
  /** How long the last committed entries took to commit (ms), when measured. */
  readonly commitLatencyMs?: number;
}

/**
 * A group's view from its Raft machine's status (RaftGroupHandle.status()), for the runtime:
 * node ids are node names in a Warren cluster; leaderId null is no leader known.
 */
export function raftGroupView(
  s: RaftStatus,
  measured: Pick<RaftGroupView, "logEntries" | "logBytes" | "commitLatencyMs"> = {},
): RaftGroupView {
  return {
    role: s.role,
    term: s.term,
    ...(s.leaderId !== null ? { leader: s.leaderId } : {}),
    voters: s.membership.voters,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    ...measured,
  };
}

/** What a NodeContext carries for a node in a cluster. */
export interface ClusterSource {
  view(): ClusterView;
}

/**
 * The name RabbitMQ gives its metadata store's Raft group (Khepri's `rabbitmq_metadata`),
 * used where RabbitMQ's outputs name it: check_if_node_is_quorum_critical, per-object metrics.
 */
export const METADATA_GROUP = "rabbitmq_metadata";

/** The majority of n voters. */
export function majorityOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * Whether stopping this node would leave the group without a majority, as RabbitMQ's
 * rabbit_upgrade_preparation decides for its critical components: the members online (seen
 * from here, this node included) are no more than a majority.
 */
export function isQuorumCritical(view: ClusterView): boolean {
  const reachable = new Set(view.members.filter((m) => m.reachable).map((m) => m.name));
  reachable.add(view.thisNode);
  const voters = view.metadata.voters;
  const online = voters.filter((v) => reachable.has(v)).length;
  return voters.includes(view.thisNode) && online <= majorityOf(voters.length);
}
