/**
 * What operators see and do with quorum queues (RabbitMQ's rabbitmq-queues verbs, the HTTP
 * API's leader/members/online, the per-queue Raft figures): the runtime provides one of these
 * (cluster/quorum/), management, metrics and the doctor read it. Plain data, no sockets.
 */

/** One member (replica) of a quorum queue's Raft group, as this node knows it. */
export interface QuorumMemberStatus {
  readonly node: string;
  /** Whether this node can reach it now (itself: always). */
  readonly online: boolean;
  /** "leader", "follower", "candidate", or "unknown" when only the leader could say. */
  readonly role: string;
  /** The last log index the leader knows the member holds (leader's view; undefined elsewhere). */
  readonly matchIndex: number | undefined;
  /** RabbitMQ's membership: a voter, or a new member still catching up (promotable). Default voter. */
  readonly membership?: "voter" | "promotable" | "non_voter";
  /**
   * The member's own Raft figures, when this node knows them (its own replica; a peer's when
   * the runtime asked it, as RabbitMQ's quorum_status asks every member). Absent: not known.
   */
  readonly raft?: QuorumRaftFigures;
}

/** One replica's Raft figures, as RabbitMQ's quorum_status and ra metrics name them. */
export interface QuorumRaftFigures {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  /** The last index in its log (RabbitMQ's last_index; also its last_written_index here). */
  readonly lastIndex: number;
}

/** A quorum queue's replication state, as this node knows it. */
export interface QuorumQueueStatus {
  readonly vhost: string;
  readonly name: string;
  /** The node whose replica leads now (null while there is none, e.g. no majority). */
  readonly leader: string | null;
  /** Every member node, in the order the group lists them. */
  readonly members: readonly string[];
  /** The members reachable from this node now. */
  readonly online: readonly string[];
  /** Whether a majority of the members is online (false: the queue does not accept). */
  readonly hasMajority: boolean;
  /** This node's replica's Raft figures (undefined when this node holds no replica). */
  readonly local:
    | {
        readonly role: string;
        readonly term: number;
        readonly commitIndex: number;
        readonly appliedIndex: number;
        readonly snapshotIndex: number;
        readonly lastIndex: number;
        /** How long the last committed entries took to commit (ms), when measured. */
        readonly commitLatencyMs?: number;
      }
    | undefined;
  /** The queue machine's version (RabbitMQ's "Machine Version"), when the runtime says it. */
  readonly machineVersion?: number;
  /** Per member: role and how far it has the log (the leader's view; on other nodes roles only). */
  readonly memberDetails: readonly QuorumMemberStatus[];
}

/** The result of a membership verb for one queue. */
export interface QuorumChangeResult {
  readonly vhost: string;
  readonly name: string;
  /** "ok", or the error text (RabbitMQ's words where it has them). */
  readonly result: string;
  readonly ok: boolean;
  /** The number of members after the change (RabbitMQ's grow/shrink "size"), when known. */
  readonly size?: number;
}

export interface QuorumAdmin {
  /** Every quorum queue of every vhost (cheap: from this node's view, no waiting). */
  list(): QuorumQueueStatus[];
  /** One queue; undefined if no such quorum queue. */
  status(vhost: string, name: string): QuorumQueueStatus | undefined;
  /** rabbitmq-queues add_member: a new replica on node (caught up, then a voter). */
  addMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult>;
  /** rabbitmq-queues delete_member: removes node's replica. */
  deleteMember(vhost: string, name: string, node: string): Promise<QuorumChangeResult>;
  /** rabbitmq-queues grow NODE all|even [--vhost-pattern] [--queue-pattern]: adds node everywhere it is missing. */
  grow(
    node: string,
    strategy: "all" | "even",
    vhostPattern: string,
    queuePattern: string,
  ): Promise<QuorumChangeResult[]>;
  /** rabbitmq-queues shrink NODE: removes node's replicas from every queue. */
  shrink(node: string): Promise<QuorumChangeResult[]>;
  /** rabbitmq-queues rebalance quorum: spreads leaders evenly over the nodes. */
  rebalance(vhostPattern: string, queuePattern: string): Promise<QuorumChangeResult[]>;
  /**
   * rabbitmq-queues check_if_node_is_quorum_critical: the quorum queues that would lose their
   * majority if node (default: this node) stopped now.
   */
  quorumCritical(node?: string): QuorumQueueStatus[];
}
