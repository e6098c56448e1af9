import { join } from "node:path";
import type { MemberAddress } from "../cluster/cluster-members.js";
import { QuorumOperations } from "../cluster/quorum/quorum-operations.js";
import { StallHistory } from "../doctor/stalls.js";
import type { Log } from "../log.js";
import type { ColdIndex } from "../message/cold-index.js";
import { MgmtService } from "../mgmt/mgmt-service.js";
import { readHeaders } from "../protocol/content-properties.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { Queue } from "../queue/queue-type.js";
import { delayOf } from "../routing/delayed-messages.js";
import type { Exchange } from "../routing/exchange.js";
import { DefinitionsStore } from "../store/definitions-store.js";
import { FileMessageStore } from "../store/file-message-store.js";
import type { StoreRecovery } from "../store/message-store.js";
import { nodeFs } from "../store/store-fs.js";
import { Broker } from "../vhost/broker.js";
import type { BrokerSettings } from "../vhost/broker-settings.js";
import { restoreSnapshot } from "../vhost/definitions.js";
import { AmqpListener, formatHost, type ListenAddress } from "./amqp-listener.js";
import { AppControl } from "./app-control.js";
import { ClusterRuntime } from "./cluster-runtime.js";
import { type ClusterSecret, loadClusterSecret } from "./cluster-secret.js";
import { DataDirLock } from "./data-dir-lock.js";
import {
  type DescriptorReserve,
  HEADROOM_DESCRIPTORS,
  HTTP_CLIENTS_RESERVED,
} from "./descriptor-budget.js";
import { FlushScheduler } from "./flush-scheduler.js";
import { LocalQuorum } from "./quorum-runtime.js";
import {
  logFallback,
  logRecovery,
  logUnclaimed,
  noDefinitionsMessage,
  type RecoveryReporting,
  reportDamage,
} from "./recovery-report.js";
import { fdsInUse, type ResourceLimits, ResourceMonitor } from "./resource-monitor.js";
import { StallWatch } from "./stall-watch.js";
import { systemSources } from "./system-sources.js";
import { TlsListener, type TlsOptions } from "./tls-listener.js";

export interface NodeOptions {
  readonly settings: BrokerSettings;
  readonly listen: readonly ListenAddress[];
  readonly dataDir: string;
  readonly log: Log;
  /** How often connections are ticked for heartbeats and timeouts. */
  readonly tickMs?: number;
  /** Message log segment size (tests use small ones to exercise reclamation). */
  readonly segmentBytes?: number;
  /** amqps listeners, when a certificate is configured. */
  readonly tls?: TlsOptions;
  readonly resourceLimits?: ResourceLimits;
  /** Management HTTP API and Prometheus ports; absent or 0 disables each. */
  readonly mgmtPort?: number;
  readonly prometheusPort?: number;
  /**
   * Drop persistent messages that no definition accounts for, instead of keeping them
   * (or refusing to start without definitions). The operator's deliberate choice.
   */
  readonly discardUnclaimedMessages?: boolean;
  /** The cluster secret the operator gave; without it the data dir's .warren-cookie is used. */
  readonly clusterSecret?: { readonly value: string; readonly source: string };
}

/** The node cannot start on this data directory as it is; the message says why and what to do. */
export class StartRefusedError extends Error {}

const DEFINITIONS_TASK = () => "building definitions.json for a save";
const SYNC_TASK = () => "publisher confirms after a message log fdatasync";
const TICK_TASK = () => "the 200 ms tick (heartbeats, TTL expiry, queue expiry, delayed messages)";
const QUORUM_TICK_TASK = () => "the quorum queues' Raft tick (single node)";
const RAFT_TICK_TASK = () => "the cluster's Raft tick (elections, heartbeats, applying metadata)";

/**
 * A running Warren node: the broker state plus the runtime that drives it
 * (storage, listeners, flushing, the clock tick). The only place that owns timers.
 */
export class WarrenNode {
  readonly broker: Broker;
  readonly listener: AmqpListener;
  readonly tlsListener: TlsListener | undefined;
  private readonly flusher: FlushScheduler;
  private readonly store: FileMessageStore;
  private readonly definitions: DefinitionsStore;
  private ticker: NodeJS.Timeout | undefined;
  private lastTickMs = 0;
  /** The event loop's pauses and their causes, for status, metrics and the doctor. */
  readonly stalls = new StallHistory();
  private readonly stallWatch: StallWatch;
  private lock: DataDirLock | undefined;
  /** Queue ids whose messages are kept although no definition names them (saved with the definitions). */
  private unclaimedQueueIds: number[] = [];
  mgmt: MgmtService | undefined;
  /** The secret peers must present (read or created at start; never logged). */
  clusterSecret: ClusterSecret | undefined;
  /** The node's part in its cluster, when --cluster-nodes names peers (none: a single node). */
  cluster: ClusterRuntime | undefined;
  /** A node alone runs its quorum queues on a driver of its own. */
  private localQuorum: LocalQuorum | undefined;
  /** In a cluster: the message store's recovery, handed to the queues once the metadata caught up. */
  private pendingRecovery: StoreRecovery | undefined;
  /** stop_app, start_app, reset, join_cluster (app-control.ts). */
  readonly app: AppControl;
  /** The queue id a node that joins raises its new cluster's to (its store saw those below). */
  private raiseQueueIdsTo = 0;

  constructor(readonly options: NodeOptions) {
    this.stallWatch = new StallWatch(this.stalls, options.log);
    // Before the node opens anything of its own: what the process itself holds.
    const processFds = fdsInUse();
    nodeFs.mkdirSync(options.dataDir);
    this.definitions = new DefinitionsStore(options.dataDir);
    let flusher: FlushScheduler | undefined;
    this.store = new FileMessageStore({
      dir: join(options.dataDir, "msgs"),
      // What an fdatasync's completion sets off (the confirms of a group commit) is timed.
      fs: {
        ...nodeFs,
        fdatasync: (fd, cb) =>
          nodeFs.fdatasync(fd, (err) => this.stallWatch.timed(SYNC_TASK, () => cb(err))),
      },
      segmentBytes: options.segmentBytes,
      scheduleFlush: () => flusher?.wake(),
      log: options.log,
    });
    this.broker = new Broker(options.settings, options.log, systemSources, {
      store: this.store,
      saveDefinitions: (snapshot) =>
        this.definitions.save(
          this.unclaimedQueueIds.length > 0
            ? { ...snapshot, unclaimedQueueIds: this.unclaimedQueueIds }
            : snapshot,
        ),
      schedule: (fn) => setImmediate(() => this.stallWatch.timed(DEFINITIONS_TASK, fn)),
    });
    this.flusher = flusher = new FlushScheduler(this.broker, this.stallWatch);
    this.broker.chores.wake = () => this.flusher.wake();
    this.listener = new AmqpListener(this.broker, this.flusher, this.stallWatch, (address) =>
      this.admission(address),
    );
    this.tlsListener = options.tls && new TlsListener(this.broker, this.listener, options.tls);
    this.resources = new ResourceMonitor(
      this.broker,
      options.resourceLimits ?? {
        memoryHighWatermark: { relative: 0.6 },
        diskFreeLimitBytes: 50_000_000,
      },
      options.dataDir,
      () => this.listener.sockets.size,
      this.descriptorReserve(processFds),
    );
    this.resources.storeProblem = () => this.store.alarm;
    this.broker.resources = this.resources.stats;
    const { settings } = options;
    this.app = new AppControl({
      nodeName: settings.nodeName,
      dataDir: options.dataDir,
      log: options.log,
      broker: this.broker,
      clusterPort: settings.clusterPort,
      configuredPeers: settings.clusterNodes,
      secret: () => this.clusterSecret!.value,
      cluster: () => this.cluster,
      openCluster: (remembered) => this.restartCluster(remembered),
      closeLocalQuorum: async () => {
        await this.localQuorum?.stop();
        this.localQuorum = undefined;
      },
      openLocalQuorum: async () => {
        if (this.localQuorum !== undefined || this.cluster !== undefined) return;
        this.localQuorum = await LocalQuorum.open(
          this.broker,
          this.log,
          this.options.dataDir,
          (fn) => this.stallWatch.timed(QUORUM_TICK_TASK, fn),
        );
        this.localQuorum.start();
      },
      closeCluster: async () => {
        this.mgmt?.attachCluster(undefined);
        await this.cluster?.stop();
        this.cluster = undefined;
      },
      definitionsFiles: [this.definitions.path, this.definitions.backupPath],
    });
  }

  /** What the open-files limit keeps back from AMQP sockets (shown in status). */
  private descriptorReserve(processFds: number): DescriptorReserve {
    const { listen, tls, mgmtPort = 0, prometheusPort = 0 } = this.options;
    const perAddress = 1 + (tls ? 1 : 0) + (mgmtPort ? 1 : 0) + (prometheusPort ? 1 : 0);
    return {
      process: processFds,
      messageStore: FileMessageStore.maxOpenFiles(),
      definitions: 2,
      dataDirLock: 1,
      listeners: listen.length * perAddress,
      httpClients: mgmtPort || prometheusPort ? HTTP_CLIENTS_RESERVED : 0,
      headroom: HEADROOM_DESCRIPTORS,
    };
  }

  readonly resources: ResourceMonitor;

  /**
   * Near the descriptor limit new connections are refused, so existing ones keep theirs.
   * (An address cooling off after failed logins is refused at login, with 403.)
   */
  private admission(_remoteAddress: string): string | undefined {
    // A paused node (the minority of a partition) takes no clients: they go to the majority.
    if (this.broker.pausedReason !== undefined) return this.broker.pausedReason;
    if (!this.resources.acceptsConnections()) {
      const s = this.resources.stats;
      return `file descriptors near the limit (sockets ${s.socketsUsed} of ${s.socketsLimit}, descriptors ${s.fdTotalUsed} of ${s.fdTotalLimit})`;
    }
    return undefined;
  }

  async start(): Promise<void> {
    // Before anything reads or writes the data directory: two nodes on one directory
    // would corrupt each other's messages and definitions.
    this.lock = await DataDirLock.acquire(this.options.dataDir);
    try {
      this.clusterSecret = loadClusterSecret(this.options.dataDir, this.options.clusterSecret);
      this.logIdentity(this.clusterSecret);
      if (this.clustered) await this.openCluster(this.clusterSecret);
      else {
        // Before the definitions are restored: quorum queues among them need their type.
        this.localQuorum = await LocalQuorum.open(
          this.broker,
          this.log,
          this.options.dataDir,
          (fn) => this.stallWatch.timed(QUORUM_TICK_TASK, fn),
        );
        this.recover();
        this.localQuorum.start();
      }
    } catch (e) {
      await this.cluster?.stop().catch(() => {});
      this.cluster = undefined;
      await this.localQuorum?.stop().catch(() => {});
      this.localQuorum = undefined;
      this.store.close();
      await this.lock.release();
      this.lock = undefined;
      throw e;
    }
    this.stallWatch.start();
    this.resources.start();
    await this.listener.listen(this.options.listen);
    await this.tlsListener?.listen();
    const { mgmtPort = 0, prometheusPort = 0 } = this.options;
    if (mgmtPort !== 0 || prometheusPort !== 0) {
      this.mgmt = new MgmtService(this.broker, this.options.log, {
        mgmtPort,
        prometheusPort,
        hosts: this.listener.bound.map((b) => b.host),
        dataDir: this.options.dataDir,
        amqp: {
          // A connection is gone once it is closed, though its socket may still wait
          // for the client to close it (AmqpConnection.closedByClient).
          connections: () =>
            [...this.listener.sockets.values()].filter((c) => c.state !== "closed"),
          bound: this.listener.bound,
          tlsBound: this.tlsListener?.bound ?? [],
        },
        // warrenctl stop: the same graceful stop as SIGTERM (cli/warren.ts handles it).
        requestStop: () => process.kill(process.pid, "SIGTERM"),
        resources: this.resources,
        stalls: this.stalls,
        tasks: this.stallWatch,
        cluster: this.cluster,
        membership: this.app.control(),
        quorum: this.quorumOperations(),
      });
      await this.mgmt.start();
    }
    this.lock.describe({
      amqp: [...this.listener.bound, ...(this.tlsListener?.bound ?? [])].map(
        (b) => `${formatHost(b.host)}:${b.port}`,
      ),
      http: this.mgmt
        ?.listeners()
        .flatMap((l) => (l.protocol === "http" ? [`${formatHost(l.host)}:${l.port}`] : [])),
    });
    // After the listeners: they refuse clients (the node is starting) until it caught up.
    try {
      await this.cluster?.start();
    } catch (e) {
      await this.stop();
      throw e;
    }
    const tickMs = this.options.tickMs ?? 200;
    this.lastTickMs = this.broker.clock();
    this.ticker = setInterval(
      () => this.stallWatch.timed(TICK_TASK, () => this.tick(tickMs)),
      tickMs,
    );
  }

  /** The quorum queues' status and verbs, from whichever runtime drives them now. */
  private quorumOperations(): QuorumOperations {
    return new QuorumOperations(() => this.cluster?.quorum ?? this.localQuorum?.service);
  }

  /** Who this node is and whom it would cluster with; the secret only by where it came from. */
  private logIdentity(secret: ClusterSecret): void {
    const { nodeName, clusterPort, clusterNodes } = this.options.settings;
    this.log.info(
      { node: nodeName, clusterPort, secretSource: secret.source, secretCreated: secret.created },
      `node ${nodeName}, cluster port ${clusterPort}; cluster secret ` +
        (secret.created ? `created in ${secret.source} (mode 0600)` : `from ${secret.source}`),
    );
    if (clusterNodes.length > 0) {
      const list = clusterNodes.map((n) => `${n.name}:${n.port}`).join(", ");
      this.log.info(
        { clusterNodes },
        `cluster nodes configured: ${list}; ` +
          (this.clustered
            ? "this node's metadata is replicated by the cluster's metadata group"
            : "no other node is listed, so this node runs alone"),
      );
    }
  }

  /** Whether this node is a member of a cluster (peers configured, or joined: cluster-peers.json). */
  private get clustered(): boolean {
    return this.app.clustered();
  }

  private get startingReason(): string {
    return `node ${this.options.settings.nodeName} is starting: its metadata has not caught up with the cluster's yet`;
  }

  /**
   * A cluster member's start: the message store is recovered as on a single node (the ids
   * its local definitions.json names are claimed), but its messages are handed to their
   * queues only once the node has the group's definitions (caughtUp); the definitions
   * themselves come from the metadata group's log, never from definitions.json, which
   * only founds a brand-new cluster (docs/CLUSTER.md, "Forming a cluster").
   */
  private async openCluster(secret: ClusterSecret): Promise<void> {
    const loaded = this.definitions.load();
    const snapshot = loaded?.snapshot;
    const claimed = new Set<number>(snapshot?.queues.map((q) => q.id) ?? []);
    for (const e of snapshot?.exchanges ?? []) if (e.storeId !== undefined) claimed.add(e.storeId);
    const discard = this.options.discardUnclaimedMessages ?? false;
    const recovery = this.store.recover(claimed, {
      nextQueueId: snapshot?.nextQueueId,
      heldQueueIds: new Set(snapshot?.unclaimedQueueIds ?? []),
      discardUnclaimed: discard,
    });
    if (!snapshot && recovery.unclaimed.messages > 0 && !discard) {
      throw new StartRefusedError(noDefinitionsMessage(this.reporting, recovery));
    }
    this.broker.raiseNextMessageId(recovery.maxMessageId + 1);
    this.unclaimedQueueIds = discard ? [] : recovery.unclaimed.queueIds;
    reportDamage(this.reporting, recovery.report, new Map());
    this.pendingRecovery = recovery;
    if (loaded?.fallback) logFallback(this.reporting, loaded);
    logUnclaimed(this.reporting, recovery, loaded, discard);
    await this.openClusterRuntime(secret, this.app.rememberedMembers());
  }

  /** start_app of a member: the cluster runtime again, over the node's live state. */
  private async restartCluster(remembered: readonly MemberAddress[]): Promise<void> {
    this.raiseQueueIdsTo = this.broker.peekNextQueueId();
    await this.openClusterRuntime(this.clusterSecret!, remembered);
    this.mgmt?.attachCluster(this.cluster);
    try {
      await this.cluster!.start();
    } catch (e) {
      await this.cluster?.stop().catch(() => {});
      this.cluster = undefined;
      throw e;
    }
  }

  private async openClusterRuntime(
    secret: ClusterSecret,
    remembered: readonly MemberAddress[],
  ): Promise<void> {
    const { settings, dataDir } = this.options;
    const snapshot = this.definitions.load()?.snapshot;
    // No client before the node has the cluster's users and queues.
    this.broker.pausedReason = this.startingReason;
    const listenHost = clusterListenHost([...settings.clusterNodes, ...remembered]);
    this.cluster = await ClusterRuntime.open({
      broker: this.broker,
      log: this.log,
      dataDir,
      secret: secret.value,
      nodeName: settings.nodeName,
      listen: { host: listenHost, port: settings.clusterPort },
      clusterNodes: this.app.configuredPeersInForce(),
      rememberedMembers: remembered,
      localDefinitions: snapshot,
      timed: (fn) => this.stallWatch.timed(RAFT_TICK_TASK, fn),
      hooks: {
        pause: (reason) => {
          this.broker.pausedReason = undefined;
          this.broker.pause(reason);
        },
        resume: () => {
          this.broker.resume();
          if (this.cluster?.status().starting) this.broker.pausedReason = this.startingReason;
        },
        caughtUp: () => {
          this.adoptRecovered();
          this.raiseQueueIds(this.raiseQueueIdsTo);
          if (this.broker.pausedReason === this.startingReason)
            this.broker.pausedReason = undefined;
        },
      },
    });
  }

  /**
   * The recovered messages go to the queues the cluster's definitions have (matched by
   * store id, which the group keeps); those of queues it does not have stay on disk,
   * unclaimed. Queue ids the store has seen are never given out again, cluster-wide.
   */
  private adoptRecovered(): void {
    const recovery = this.pendingRecovery;
    if (recovery === undefined) return;
    this.pendingRecovery = undefined;
    const durable = new Map<number, Queue>();
    const delayed = new Map<number, Exchange>();
    for (const vhost of this.broker.vhosts.values()) {
      for (const q of vhost.queues.values())
        if (q.isDurable && q.adoptRecovered) durable.set(q.storeId, q);
      for (const e of vhost.exchanges.values())
        if (e.delayed && e.definition.durable) delayed.set(e.storeId, e);
    }
    const orphaned: number[] = [];
    for (const [id, recovered] of recovery.queues) {
      const queue = durable.get(id);
      const exchange = delayed.get(id);
      if (queue) queue.adoptRecovered?.(recovered.entries);
      else if (exchange) this.rehold(exchange, recovered.entries);
      else if (recovered.entries.length > 0) orphaned.push(id);
    }
    logRecovery(this.reporting, recovery, durable.size, delayed.size);
    if (orphaned.length > 0) {
      this.log.warn(
        { queueIds: orphaned },
        `the message store holds messages of store ids ${orphaned.join(", ")}, which no queue of the ` +
          "cluster has (deleted while this node was away, or this node's own queues before it " +
          "joined); they stay on disk and are not delivered",
      );
    }
    this.raiseQueueIds(recovery.maxQueueId + 1);
  }

  /** Queue ids this node's store has seen are never given out again, cluster-wide. */
  private raiseQueueIds(atLeast: number): void {
    if (atLeast > this.broker.peekNextQueueId()) {
      Promise.resolve(this.broker.submit({ type: "queue-ids.raise", atLeast })).catch((e: Error) =>
        this.log.warn(
          { atLeast, err: e.message },
          `could not raise the cluster's next queue id to ${atLeast}: ${e.message}`,
        ),
      );
    }
  }

  /**
   * Definitions first, then each durable queue's unsettled messages from the store.
   * Messages the definitions cannot account for (missing or stale definitions) are
   * kept, never reclaimed; with no definitions at all the node refuses to start.
   */
  private recover(): void {
    const { broker } = this;
    const loaded = this.definitions.load();
    const snapshot = loaded?.snapshot;
    if (snapshot) {
      try {
        broker.restoringDefinitions(() => restoreSnapshot(broker, snapshot));
      } catch (e) {
        throw new StartRefusedError(
          `could not restore the definitions in ${loaded.path}: ${(e as Error).message}`,
        );
      }
    }
    const durable = new Map<number, Queue>();
    const delayed = new Map<number, Exchange>();
    for (const vhost of broker.vhosts.values()) {
      // Queues whose messages are in the message store; other types recover their own.
      for (const q of vhost.queues.values())
        if (q.isDurable && q.adoptRecovered) durable.set(q.storeId, q);
      for (const e of vhost.exchanges.values())
        if (e.delayed && e.definition.durable) delayed.set(e.storeId, e);
    }
    const discard = this.options.discardUnclaimedMessages ?? false;
    const recovery = this.store.recover(new Set([...durable.keys(), ...delayed.keys()]), {
      nextQueueId: snapshot?.nextQueueId,
      heldQueueIds: new Set(snapshot?.unclaimedQueueIds ?? []),
      discardUnclaimed: discard,
    });
    if (!snapshot && recovery.unclaimed.messages > 0 && !discard) {
      throw new StartRefusedError(noDefinitionsMessage(this.reporting, recovery));
    }
    if (!snapshot) broker.bootstrapDefaults();
    for (const [id, recovered] of recovery.queues) {
      durable.get(id)?.adoptRecovered?.(recovered.entries);
      const exchange = delayed.get(id);
      if (exchange) this.rehold(exchange, recovered.entries);
    }
    broker.raiseNextMessageId(recovery.maxMessageId + 1);
    // Queue ids are never reused, not even those of queues the definitions forgot.
    broker.raiseNextQueueId(recovery.maxQueueId + 1);
    this.unclaimedQueueIds = discard ? [] : recovery.unclaimed.queueIds;
    reportDamage(this.reporting, recovery.report, durable);
    logRecovery(this.reporting, recovery, durable.size, snapshot?.exchanges.length ?? 0);
    if (loaded?.fallback) logFallback(this.reporting, loaded);
    logUnclaimed(this.reporting, recovery, loaded, discard);
    // Write definitions.json again when it is not what the node now knows: restored
    // from the backup, or the kept queue ids or the next queue id changed.
    const storedIds = (snapshot?.unclaimedQueueIds ?? []).join(",");
    if (
      loaded?.fallback ||
      storedIds !== this.unclaimedQueueIds.join(",") ||
      (snapshot && snapshot.nextQueueId < broker.peekNextQueueId())
    ) {
      broker.submitNow({ type: "definitions.save" });
    }
  }

  /** What the start-up reports name: the log, the data directory, the definitions files. */
  private get reporting(): RecoveryReporting {
    return {
      log: this.log,
      dataDir: this.options.dataDir,
      definitionsPath: this.definitions.path,
      definitionsBackupPath: this.definitions.backupPath,
    };
  }

  /** Delayed messages come back with their original due time (arrival plus x-delay). */
  private rehold(exchange: Exchange, entries: ColdIndex): void {
    for (const r of entries.drain()) {
      const ref = { segment: r.segment, offset: r.offset, length: r.length };
      const message = this.store.read(ref);
      const delay = delayOf(readHeaders(message.properties, message.summary));
      exchange.delayed!.hold(message, message.arrivedAtMs + delay, ref);
    }
  }

  /** The lock on the data directory, while the node holds it. */
  get dataDirLock(): DataDirLock | undefined {
    return this.lock;
  }

  private get log(): Log {
    return this.options.log;
  }

  private storeAlarm: string | undefined;

  private tick(tickMs: number): void {
    const now = this.broker.clock();
    // A broker that stalled read nobody's heartbeats meanwhile: the pause is not the
    // clients' silence. Their heartbeats are waiting in the sockets, read after this tick.
    const pausedMs = now - this.lastTickMs - tickMs;
    this.lastTickMs = now;
    if (pausedMs >= 500) {
      for (const conn of this.listener.sockets.values()) conn.lastReceivedMs += pausedMs;
    }
    for (const conn of this.listener.sockets.values()) conn.tick(now);
    this.broker.tick(now);
    // Retries what the store could not do (a write, a rotation, a deletion) when due.
    this.store.flush();
    const alarm = this.store.alarm;
    if (alarm !== this.storeAlarm) {
      if (alarm)
        this.log.error(
          { alarm },
          `alarm set: ${alarm}; publishers are blocked (disk alarm) and the publishes of a failed write are nacked; free space or fix the disk under ${this.options.dataDir}`,
        );
      else this.log.warn({ alarm: this.storeAlarm }, `alarm cleared: ${this.storeAlarm}`);
      this.storeAlarm = alarm;
      this.resources.updateDiskAlarm();
    }
  }

  /** Stops listening and closes every connection with 320 CONNECTION_FORCED, as RabbitMQ does on shutdown. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.resources.stop();
    this.stallWatch.stop();
    await this.mgmt?.stop();
    // net.Server.close() waits for every connection to end, so close them meanwhile.
    const closed = Promise.all([this.listener.close(), this.tlsListener?.close()]);
    for (const conn of [...this.listener.sockets.values()]) {
      if (conn.state === "open") {
        conn.close(
          ReplyCode.CONNECTION_FORCED,
          "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
        );
      }
    }
    // Give the close frames a moment to leave, then drop what is left.
    await new Promise((r) => setTimeout(r, 100));
    for (const socket of this.listener.sockets.keys()) socket.destroy();
    await closed;
    // The metadata group's log is closed (synced) before the message store.
    await this.cluster?.stop();
    await this.localQuorum?.stop();
    // What purges left to release is settled before the store closes, so purged
    // messages do not come back after a clean restart.
    this.broker.chores.runAll(this.broker.clock());
    // A definitions save in flight finishes before the files close (its change was not
    // acknowledged yet, but there is no reason to lose it).
    await this.broker.definitionsSaved()?.catch(() => {});
    this.store.close();
    await this.lock?.release();
  }
}

/**
 * Where the cluster port listens: every interface, as RabbitMQ's distribution port does
 * ("::" when a peer is an IPv6 address), except for a cluster whose nodes are all on this
 * machine (npm run cluster, the tests), which needs no more than loopback.
 */
export function clusterListenHost(nodes: readonly { readonly host: string }[]): string {
  const loopback = (h: string) => h === "localhost" || h.startsWith("127.") || h === "::1";
  if (nodes.every((n) => loopback(n.host))) return "127.0.0.1";
  return nodes.some((n) => n.host.includes(":")) ? "::" : "0.0.0.0";
}
