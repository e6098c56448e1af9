/**
 * A node's part in its cluster (docs/CLUSTER.md): the metadata Raft group's log on disk
 * (<data-dir>/raft), the node-to-node transport on the cluster port, the Raft driver ticked
 * by a timer, the metadata group over the broker, and forwarding to the leader. Each tick it
 * also decides three things the pure parts cannot:
 *
 * - **starting**: until this node's metadata has caught up with a leader's commit index, it
 *   admits no clients (they would see a node without the cluster's users and queues);
 * - **founding**: the first leader of a brand-new group proposes the founding definitions
 *   (its definitions.json, or the default vhost and user) as the group's first command, so
 *   they become the cluster's initial state exactly once;
 * - **pause_minority**: MajorityWatch says when this node has not seen a majority for longer
 *   than the election timeout; the node's hooks pause and resume the broker.
 */

import type { MemberAddress, MembershipAnswer } from "../cluster/cluster-members.js";
import { MajorityWatch } from "../cluster/majority-watch.js";
import {
  METADATA_GROUP_ID,
  type MetadataGroup,
  MetadataUnavailableError,
  REAL_TIMERS,
  startMetadataGroup,
} from "../cluster/metadata/index.js";
import type { QueueForwarding } from "../cluster/queues/queue-forwarding.js";
import { QuorumService } from "../cluster/quorum/quorum-service.js";
import { RaftDriver } from "../cluster/raft-driver.js";
import { logWriterOf } from "../cluster/raft-log-writer.js";
import type { PeerAddress } from "../cluster/transport/index.js";
import { PeerRequests } from "../cluster/transport/peer-requests.js";
import { TcpPeerTransport } from "../cluster/transport/tcp-peer-transport.js";
import { TransportForwarder } from "../cluster/transport/transport-forwarder.js";
import type { Log } from "../log.js";
import { type ClusterSource, type ClusterView, raftGroupView } from "../mgmt/cluster-view.js";
import type { NodeId } from "../raft/index.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import { FileRaftLogStore } from "../store/file-raft-log-store.js";
import type { Broker } from "../vhost/broker.js";
import type { ClusterNodeAddress } from "../vhost/broker-settings.js";
import type { CommandSubmitter } from "../vhost/commands/command-submitter.js";
import type { MetadataCommand } from "../vhost/commands/command-types.js";
import { ClusterFounding } from "./cluster-founding.js";
import { ClusterMembership } from "./cluster-membership.js";
import { ClusterQueueUpkeep, forwardingLinkOf, startQueueForwarding } from "./cluster-queues.js";
import { quorumValidateArguments } from "./quorum-runtime.js";
import { TimerTicks } from "./timer-ticks.js";

/**
 * 25 ms ticks, elections after 80-160 of them: a 2-4 s election timeout. A heartbeat every
 * tick (40 a second, a few dozen bytes each): a follower learns a new commit index only from
 * the leader's next message, and a change made through a follower is answered once that
 * follower applied it, so the heartbeat interval is most of such a declare's latency.
 */
export const CLUSTER_TICK_MS = 25;
export const ELECTION_TICKS = 80;
export const HEARTBEAT_TICKS = 1;

/** The request kind that asks a leader for its commit index (catching up at start). */
const COMMIT_INDEX_KIND = 2;
const COMMIT_INDEX_TIMEOUT_MS = 2_000;

export interface ClusterHooks {
  /** The node cannot see a majority: close clients and refuse new ones with this reason. */
  pause(reason: string): void;
  /** A majority is back. */
  resume(): void;
  /** This node's metadata caught up with the cluster's (once, after the start). */
  caughtUp(): void;
}

export interface ClusterRuntimeOptions {
  readonly broker: Broker;
  readonly log: Log;
  readonly dataDir: string;
  readonly secret: string;
  readonly nodeName: string;
  /** The cluster port (0: pick one) and the host to listen on. */
  readonly listen: PeerAddress;
  readonly clusterNodes: readonly ClusterNodeAddress[];
  /** The members <data-dir>/cluster-peers.json lists (a node that joined knows its cluster by it). */
  readonly rememberedMembers?: readonly MemberAddress[];
  /** The node's definitions.json, proposed if this node founds a new cluster. */
  readonly localDefinitions: DefinitionsSnapshot | undefined;
  readonly hooks: ClusterHooks;
  /** Wraps each tick for the stall watch. */
  readonly timed?: (fn: () => void) => void;
  readonly tickMs?: number;
  readonly electionTicks?: number;
}

/** What the operator view shows about a cluster member. */
export interface ClusterMemberStatus {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly self: boolean;
  /** Since when this node's link to it is up (null while down; this node itself: always up). */
  readonly connectedSinceMs: number | null;
  /** Since when it has been unreachable from here (null while reachable). */
  readonly unreachableSinceMs: number | null;
  /** Frame bytes this node sent to it and received from it since start (0 for itself). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** The runtime's state as the operator view (ClusterView) reads it. */
export interface ClusterRuntimeStatus {
  readonly nodeName: string;
  readonly clusterPort: number;
  readonly members: readonly ClusterMemberStatus[];
  readonly metadata: {
    readonly role: string;
    readonly term: number;
    readonly leader: NodeId | null;
    /** The voting members (who counts for the majority). */
    readonly voters: readonly NodeId[];
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly snapshotIndex: number;
    readonly lastIndex: number;
  };
  /** Whether this node still waits to catch up with the cluster's metadata. */
  readonly starting: boolean;
  /** Why the node does not serve clients because of the cluster (undefined while it does). */
  readonly pausedReason: string | undefined;
  /** Since when it is paused (ms since the epoch; undefined while it is not). */
  readonly pausedSinceMs: number | undefined;
}

export class ClusterRuntime implements ClusterSource {
  readonly transport: TcpPeerTransport;
  readonly driver: RaftDriver;
  readonly metadata: MetadataGroup;
  private readonly requests: PeerRequests;
  private readonly watch: MajorityWatch;
  private readonly membership: ClusterMembership;
  private readonly unreachableSince = new Map<NodeId, number>();
  private readonly reportedUnreachable = new Set<NodeId>();
  private readonly wasConnected = new Set<NodeId>();
  private boundPort = 0;
  private boundHost = "";
  private starting = true;
  private catchUpTarget: number | undefined;
  private askingLeader = false;
  private readonly founding: ClusterFounding;
  private pausedReason: string | undefined;
  private pausedSinceMs: number | undefined;
  private stopped = false;
  private lastLeader: NodeId | null = null;
  readonly electionTimeoutMs: number;
  /** Classic queues homed on other nodes, and this node's queues served to them. */
  readonly queues: QueueForwarding;
  /** Quorum queues: the replicas this node holds and the routes to their leaders. */
  readonly quorum: QuorumService;
  private readonly queueUpkeep: ClusterQueueUpkeep;

  private constructor(
    private readonly options: ClusterRuntimeOptions,
    private readonly store: FileRaftLogStore,
  ) {
    const { broker, log, nodeName } = options;
    const tickMs = options.tickMs ?? CLUSTER_TICK_MS;
    const electionTicks = options.electionTicks ?? ELECTION_TICKS;
    this.electionTimeoutMs = tickMs * electionTicks;
    // A follower notices a lost leader after its randomized election timeout (up to twice
    // the base), and the majority then elects a new one within a round trip or two: the
    // watch waits longer than all that, so a leader change never pauses the majority.
    this.watch = new MajorityWatch(2 * this.electionTimeoutMs + 1_000);
    // The peers are set by the membership (below), from the group's members.
    this.transport = new TcpPeerTransport({
      nodeId: nodeName,
      secret: options.secret,
      listen: options.listen,
      log,
    });
    this.requests = new PeerRequests(this.transport);
    // Before the metadata group builds the queues: those homed elsewhere become stand-ins.
    this.queues = startQueueForwarding(broker, this.transport, this.requests, log);
    // A lost node's transient queues are reaped once it must have paused (the watch above).
    const reapAfterMs = 2 * this.electionTimeoutMs + 6_000;
    this.queueUpkeep = new ClusterQueueUpkeep(broker, this.queues, log, nodeName, reapAfterMs);
    this.driver = new RaftDriver({
      nodeId: nodeName,
      log: logWriterOf(store),
      transport: this.transport,
      ticks: new TimerTicks(tickMs, () => this.afterTick(), options.timed),
      raftOptions: {
        electionTicks,
        heartbeatTicks: HEARTBEAT_TICKS,
        checkQuorum: true,
        preVote: true,
        random: Math.random,
      },
      // A quorum queue's leader that added this node: its replica starts on the first message.
      unknownGroup: (groupId, from) => this.quorum?.adoptGroup(groupId, from) ?? false,
    });
    // Before the metadata group builds the queues: quorum queues need their type.
    this.quorum = new QuorumService({
      broker,
      log,
      nodeName,
      driver: this.driver,
      store,
      link: forwardingLinkOf(this.transport, this.requests),
      clusterNodes: () => this.driver.machine(METADATA_GROUP_ID)?.status().membership.voters ?? [],
      validateArguments: quorumValidateArguments,
    });
    broker.queueTypes.register(this.quorum.queueType);
    const forwarder = new TransportForwarder(this.requests);
    // Restores the group's snapshot into the broker: its definitions become the group's.
    this.metadata = startMetadataGroup({
      broker,
      driver: this.driver,
      persisted: store.load(METADATA_GROUP_ID)!,
      forwarder,
      timers: REAL_TIMERS,
      quorumLeaders: () => this.quorum.leadersPerNode(),
    });
    forwarder.serve(this.metadata.serveForwarded);
    broker.useReplicatedCommands(this.failFastWhilePaused(this.metadata.commands));
    this.requests.serve(COMMIT_INDEX_KIND, async () => this.answerCommitIndex());
    this.membership = new ClusterMembership({
      nodeName,
      log,
      dataDir: options.dataDir,
      broker,
      driver: this.driver,
      metadata: this.metadata,
      transport: this.transport,
      requests: this.requests,
      configured: options.clusterNodes,
      remembered: options.rememberedMembers ?? [],
    });
    this.founding = new ClusterFounding({
      broker,
      log,
      nodeName,
      driver: this.driver,
      requests: this.requests,
      peers: options.clusterNodes.map((n) => n.name).filter((n) => n !== nodeName),
      localDefinitions: options.localDefinitions,
      leaderReady: () => this.leaderReady(),
    });
  }

  /**
   * Opens the metadata group's log in <data-dir>/raft (recovering it: a torn tail is cut,
   * older damage refuses the start) and builds the group over the broker. A new log gets
   * the group with every configured node as a founding voter.
   */
  static async open(options: ClusterRuntimeOptions): Promise<ClusterRuntime> {
    const store = await FileRaftLogStore.open(`${options.dataDir}/raft`, { log: options.log });
    try {
      const joined = (options.rememberedMembers ?? []).some((m) => m.name !== options.nodeName);
      if (store.load(METADATA_GROUP_ID) === undefined && joined) {
        // A node that joined an existing cluster (join_cluster) has no vote of its own to
        // give: it waits, with no members, for the leader's log or snapshot (§4.2.1).
        store.createGroup(METADATA_GROUP_ID, { voters: [], learners: [] });
        await store.sync();
        options.log.info(
          { members: options.rememberedMembers },
          "created an empty metadata group: this node joined a cluster and learns its metadata from the leader",
        );
      } else if (store.load(METADATA_GROUP_ID) === undefined) {
        const voters = [
          ...new Set([options.nodeName, ...options.clusterNodes.map((n) => n.name)]),
        ].sort();
        store.createGroup(METADATA_GROUP_ID, { voters, learners: [] });
        await store.sync();
        options.log.info(
          { voters },
          `created the metadata group with founding members ${voters.join(", ")}`,
        );
      }
      return new ClusterRuntime(options, store);
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  /** Listens on the cluster port, dials the peers, and starts the Raft clock. */
  async start(): Promise<PeerAddress> {
    let bound: PeerAddress;
    try {
      bound = await this.transport.start();
    } catch (e) {
      const { host, port } = this.options.listen;
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        `cannot listen on the cluster port ${host}:${port} (${code ?? (e as Error).message})` +
          (code === "EADDRINUSE"
            ? "; another process uses it: stop it or choose another port with --cluster-port"
            : ""),
      );
    }
    this.boundPort = bound.port;
    this.boundHost = bound.host;
    const s = this.driver.machine(METADATA_GROUP_ID)!.status();
    this.options.log.info(
      {
        clusterPort: bound.port,
        clusterHost: bound.host,
        peers: [...this.peers().keys()],
        term: s.term,
        lastIndex: s.lastIndex,
        snapshotIndex: s.snapshotIndex,
      },
      `cluster port ${bound.host}:${bound.port}: joining the cluster with ${[...this.peers().keys()].join(", ")}; ` +
        "clients are refused until this node's metadata has caught up with the cluster's",
    );
    this.driver.start();
    return bound;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.quorum.stop();
    this.driver.stop();
    this.requests.close();
    await this.transport.close();
    await this.store.close();
  }

  status(): ClusterRuntimeStatus {
    const s = this.driver.machine(METADATA_GROUP_ID)!.status();
    const self = this.options.nodeName;
    const members: { name: string; host: string; port: number }[] = [...this.peers().values()];
    members.push({ name: self, host: "", port: this.boundPort });
    const stats = new Map(this.transport.stats().map((p) => [p.peer, p]));
    return {
      nodeName: self,
      clusterPort: this.boundPort,
      members: members.map((n) => ({
        name: n.name,
        host: n.host,
        port: n.port,
        self: n.name === self,
        connectedSinceMs: n.name === self ? 0 : (stats.get(n.name)?.connectedSinceMs ?? null),
        unreachableSinceMs: this.unreachableSince.get(n.name) ?? null,
        bytesSent: stats.get(n.name)?.bytesOut ?? 0,
        bytesReceived: stats.get(n.name)?.bytesIn ?? 0,
      })),
      metadata: {
        role: s.role,
        term: s.term,
        leader: s.leaderId,
        voters: s.membership.voters,
        commitIndex: s.commitIndex,
        appliedIndex: this.driver.appliedIndex(METADATA_GROUP_ID) ?? 0,
        snapshotIndex: s.snapshotIndex,
        lastIndex: s.lastIndex,
      },
      starting: this.starting,
      pausedReason: this.pausedReason,
      pausedSinceMs: this.pausedSinceMs,
    };
  }

  /**
   * The operator's view (management API, metrics, doctor, warrenctl): what this node knows
   * now, no I/O. A peer unreachable from here is a member `reachable: false`; while this
   * node is paused, its unreachable peers are also its partition (it cannot tell a peer that
   * is down from one that runs behind a cut, but a paused node is the minority side).
   */
  view(): ClusterView {
    const status = this.status();
    const machine = this.driver.machine(METADATA_GROUP_ID)!;
    const unreachable = status.members.filter((m) => !m.self && m.connectedSinceMs === null);
    return {
      thisNode: status.nodeName,
      members: status.members.map((m) => ({
        name: m.name,
        clusterAddress: m.self ? `${this.boundHost}:${this.boundPort}` : `${m.host}:${m.port}`,
        reachable: m.self || m.connectedSinceMs !== null,
        ...(m.connectedSinceMs !== null && !m.self ? { connectedSinceMs: m.connectedSinceMs } : {}),
        ...(m.unreachableSinceMs !== null ? { unreachableSinceMs: m.unreachableSinceMs } : {}),
        ...(m.self ? {} : { bytesSent: m.bytesSent, bytesReceived: m.bytesReceived }),
      })),
      partitions:
        status.pausedReason !== undefined && unreachable.length > 0
          ? [{ node: status.nodeName, cannotSee: unreachable.map((m) => m.name) }]
          : [],
      ...(status.pausedReason !== undefined
        ? { paused: { reason: status.pausedReason, sinceMs: status.pausedSinceMs ?? Date.now() } }
        : {}),
      metadata: {
        ...raftGroupView(machine.status()),
        appliedIndex: status.metadata.appliedIndex,
      },
    };
  }

  /** The members this node dials now (the metadata group's, at their known addresses). */
  peers(): ReadonlyMap<NodeId, MemberAddress> {
    return this.membership.currentPeers();
  }

  /** forget_cluster_node, run on this node (cluster-membership.ts). */
  forget(name: NodeId): Promise<MembershipAnswer> {
    return this.membership.forget(name);
  }

  // ---------------------------------------------------------------- each tick

  private afterTick(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.membership.tick(now);
    this.watchLeader();
    this.watchPeers(now);
    this.watchMajority(now);
    if (this.starting) this.catchUp();
    this.founding.maybeFound();
    this.quorum.tick(now);
    if (this.starting || this.pausedReason !== undefined) return;
    const isLeader = this.driver.machine(METADATA_GROUP_ID)!.status().role === "leader";
    this.queueUpkeep.tick(now, isLeader, this.unreachableSince);
  }

  /** Logs each change of the metadata group's leader as this node learns it. */
  private watchLeader(): void {
    const s = this.driver.machine(METADATA_GROUP_ID)!.status();
    if (s.leaderId === this.lastLeader || s.leaderId === null) return;
    this.lastLeader = s.leaderId;
    const self = s.leaderId === this.options.nodeName;
    this.options.log.info(
      { leader: s.leaderId, term: s.term, self },
      self
        ? `this node (${s.leaderId}) is now the leader of the metadata group (term ${s.term})`
        : `the metadata group's leader is ${s.leaderId} (term ${s.term})`,
    );
  }

  /** Logs a peer unreachable for longer than the election timeout, and its return. */
  private watchPeers(now: number): void {
    const peers = this.peers();
    for (const peer of this.unreachableSince.keys())
      if (!peers.has(peer)) this.unreachableSince.delete(peer);
    for (const peer of peers.keys()) {
      if (this.transport.isConnected(peer)) {
        this.wasConnected.add(peer);
        const since = this.unreachableSince.get(peer);
        this.unreachableSince.delete(peer);
        if (since !== undefined && this.reportedUnreachable.delete(peer)) {
          this.options.log.info(
            { peer, unreachableForMs: now - since },
            `cluster peer ${peer} is reachable again after ${seconds(now - since)} s`,
          );
        }
        continue;
      }
      if (!this.unreachableSince.has(peer)) {
        this.requests.peerLost(peer);
        this.unreachableSince.set(peer, now);
      }
      const since = this.unreachableSince.get(peer)!;
      if (now - since > this.electionTimeoutMs && !this.reportedUnreachable.has(peer)) {
        this.reportedUnreachable.add(peer);
        this.options.log.warn(
          { peer, unreachableSince: iso(since), address: peers.get(peer) },
          `cluster peer ${peer} is unreachable since ${iso(since)}` +
            (this.wasConnected.has(peer) ? "" : " (never reached since this node started)"),
        );
      }
    }
  }

  /**
   * pause_minority: a majority is seen while this node leads (checkQuorum makes a leader
   * that stops hearing from a majority step down within the election timeout) or follows a
   * leader (a follower that stops hearing from it campaigns, and forgets it, within its
   * election timeout). Watched once the node has caught up: before, it admits no client
   * anyway, and the first election must not count as a lost majority.
   */
  private watchMajority(now: number): void {
    if (this.starting) return;
    const s = this.driver.machine(METADATA_GROUP_ID)!.status();
    const self = this.options.nodeName;
    const sees = s.role === "leader" || (s.leaderId !== null && s.leaderId !== self);
    const transition = this.watch.observe(now, sees);
    if (transition?.kind === "pause") {
      const unreachable = [...this.unreachableSince]
        .map(([peer, since]) => `${peer} since ${iso(since)}`)
        .join(", ");
      this.pausedReason = `node ${self} cannot see a majority of the cluster`;
      this.pausedSinceMs = now;
      this.options.log.error(
        { lostForMs: transition.lostForMs, unreachable: Object.fromEntries(this.unreachableSince) },
        `node ${self} has not seen a majority of the cluster for ${seconds(transition.lostForMs)} s ` +
          `(unreachable: ${unreachable || "none, but no leader is known"}); pausing: client ` +
          "connections are closed and refused until a majority is back",
      );
      this.queues.host.pause(this.pausedReason);
      this.options.hooks.pause(this.pausedReason);
    } else if (transition?.kind === "resume") {
      this.pausedReason = undefined;
      this.pausedSinceMs = undefined;
      this.options.log.info(
        { pausedForMs: transition.pausedForMs, leader: s.leaderId },
        `node ${self} sees a majority of the cluster again after ${seconds(transition.pausedForMs)} s ` +
          `(leader ${s.role === "leader" ? "this node" : s.leaderId}); serving clients again`,
      );
      this.queues.host.resume();
      this.options.hooks.resume();
    }
  }

  /**
   * Starting: asks the leader for its commit index, then waits until this node has applied
   * that far. The leader answers only once the founding definitions are committed.
   */
  private catchUp(): void {
    const machine = this.driver.machine(METADATA_GROUP_ID)!;
    const s = machine.status();
    const applied = this.driver.appliedIndex(METADATA_GROUP_ID) ?? 0;
    if (s.role === "leader") {
      if (this.leaderReady() && this.founding.founded && applied >= s.commitIndex)
        this.caughtUp(applied);
      return;
    }
    if (this.catchUpTarget !== undefined && applied >= this.catchUpTarget) {
      this.caughtUp(applied);
      return;
    }
    if (this.askingLeader || s.leaderId === null || s.leaderId === this.options.nodeName) return;
    this.askingLeader = true;
    const leader = s.leaderId;
    this.requests
      .request(leader, COMMIT_INDEX_KIND, new Uint8Array(0), COMMIT_INDEX_TIMEOUT_MS)
      .then(
        (answer) => {
          const { commitIndex } = JSON.parse(answer.toString("utf8")) as { commitIndex: number };
          this.catchUpTarget = Math.max(this.catchUpTarget ?? 0, commitIndex);
        },
        (e: Error) =>
          this.options.log.debug(
            { leader, err: e.message },
            `asked ${leader} for its commit index: ${e.message}`,
          ),
      )
      .finally(() => {
        this.askingLeader = false;
      });
  }

  private caughtUp(applied: number): void {
    this.starting = false;
    this.options.log.info(
      { appliedIndex: applied, leader: this.driver.machine(METADATA_GROUP_ID)!.status().leaderId },
      `node ${this.options.nodeName} has caught up with the cluster's metadata (index ${applied}); serving clients`,
    );
    this.queueUpkeep.caughtUp(this.options.nodeName, () => this.options.hooks.caughtUp());
  }

  /** The leader's answer to a node that is catching up. */
  private answerCommitIndex(): Uint8Array {
    const s = this.driver.machine(METADATA_GROUP_ID)!.status();
    if (s.role !== "leader") throw new Error(`not the leader (the leader is ${s.leaderId})`);
    if (!this.leaderReady())
      throw new Error("the leader has not committed an entry of its term yet");
    if (!this.founding.founded)
      throw new Error("the cluster's founding definitions are not committed yet");
    return Buffer.from(JSON.stringify({ commitIndex: s.commitIndex }), "utf8");
  }

  /** A new leader knows the commit index once an entry of its own term is committed (§5.4.2). */
  private leaderReady(): boolean {
    const machine = this.driver.machine(METADATA_GROUP_ID)!;
    const s = machine.status();
    return s.role === "leader" && machine.termAt(s.commitIndex) === s.term;
  }

  /**
   * A paused node (the minority) answers metadata changes at once with 506 rather than after
   * the group's 10 s wait: it knows no majority can take them.
   */
  private failFastWhilePaused(commands: CommandSubmitter): CommandSubmitter {
    return {
      submit: <C extends MetadataCommand>(command: C) => {
        const reason = this.pausedReason;
        if (reason === undefined) return commands.submit(command);
        // Rejected, not thrown: the node's own changes (the exclusive queues of the
        // connections the pause just closed) are submitted without waiting, and their
        // failure is logged (Broker.submitTrigger); a throw would break the close.
        return Promise.reject(
          new MetadataUnavailableError(
            "noLeader",
            `the metadata store is unavailable: ${reason}; the change was not made`,
          ),
        );
      },
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
