/**
 * Several Warren nodes in one process with their metadata on Raft: each node has its own
 * Broker, a RaftDriver (the production one) over its own log store (MemoryRaftLogStore,
 * or a FileRaftLogStore in a temp dir), a timer tick, and an in-memory mesh for both the
 * Raft messages and the forwarded commands, whose links the test can cut. A crash stops the
 * node's driver and forgets its broker; a restart builds a new broker and driver from what
 * the log store kept, as a restarted process would.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageReceiver, PeerTransport, TickSource } from "../../../../src/cluster/index.js";
import { logWriterOf, RaftDriver } from "../../../../src/cluster/index.js";
import {
  type CommandForwarder,
  type ForwardedCommandHandler,
  ForwardFailedError,
  METADATA_GROUP_ID,
  type MetadataGroup,
  REAL_TIMERS,
  startMetadataGroup,
} from "../../../../src/cluster/metadata/index.js";
import { silentLog } from "../../../../src/log.js";
import type { GroupMessage, Membership, NodeId } from "../../../../src/raft/index.js";
import { systemSources } from "../../../../src/runtime/system-sources.js";
import { FileRaftLogStore } from "../../../../src/store/file-raft-log-store.js";
import { MemoryLogDisk, MemoryRaftLogStore } from "../../../../src/store/memory-raft-log-store.js";
import type { RaftLogStore } from "../../../../src/store/raft-log-store.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import { HASHING_ALGORITHM, hashPassword } from "../../../../src/vhost/password-hash.js";

/** Raft messages and forwarded commands between the nodes of one process; links can be cut. */
export class MemoryMesh {
  private readonly receivers = new Map<NodeId, MessageReceiver>();
  private readonly handlers = new Map<NodeId, ForwardedCommandHandler>();
  private readonly cut = new Set<string>();
  readonly down = new Set<NodeId>();

  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`) && !this.down.has(from) && !this.down.has(to);
  }

  transport(id: NodeId): PeerTransport {
    return {
      send: (to, messages: readonly GroupMessage[]) => {
        if (!this.linkUp(id, to)) return;
        // Delivered on a later turn, as a socket would, and only if the link still holds.
        setImmediate(() => {
          if (this.linkUp(id, to)) this.receivers.get(to)?.(messages);
        });
      },
      onReceive: (receiver) => {
        this.receivers.set(id, receiver);
      },
    };
  }

  forwarder(id: NodeId): CommandForwarder {
    return {
      forward: (to, command) =>
        new Promise((resolve, reject) => {
          const notSent = (why: string) => reject(new ForwardFailedError(why, false));
          if (!this.linkUp(id, to)) return notSent(`no link from ${id} to ${to}`);
          setImmediate(() => {
            const handler = this.handlers.get(to);
            if (!this.linkUp(id, to) || handler === undefined)
              return notSent(`${to} cannot be reached`);
            handler(command).then((reply) => {
              if (!this.linkUp(to, id)) {
                reject(new ForwardFailedError(`the answer from ${to} was lost`, true));
                return;
              }
              // The answer crosses the wire as JSON, as the TCP transport will carry it.
              setImmediate(() => resolve(JSON.parse(JSON.stringify(reply))));
            });
          });
        }),
    };
  }

  serve(id: NodeId, handler: ForwardedCommandHandler): void {
    this.handlers.set(id, handler);
  }

  isolate(id: NodeId, others: Iterable<NodeId>): void {
    for (const other of others) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }
}

/** Ticks every `ms` on a timer, as the runtime's tick source will. */
export class IntervalTicks implements TickSource {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  start(onTick: () => void): void {
    this.stop();
    this.timer = setInterval(onTick, this.ms);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export interface MetaNode {
  readonly id: NodeId;
  readonly broker: Broker;
  readonly driver: RaftDriver;
  readonly store: RaftLogStore;
  readonly meta: MetadataGroup;
  readonly ticks: IntervalTicks;
}

export interface MetadataClusterOptions {
  readonly tickMs?: number;
  readonly snapshotEveryEntries?: number;
  /** How long a submit waits for a leader and the commit (ReplicatedCommands). */
  readonly timeoutMs?: number;
  /** "file": every node's log is a FileRaftLogStore in its own temp dir. */
  readonly store?: "memory" | "file";
}

export class MetadataCluster {
  readonly mesh = new MemoryMesh();
  readonly nodes = new Map<NodeId, MetaNode>();
  private readonly disks = new Map<NodeId, MemoryLogDisk>();
  private readonly dirs = new Map<NodeId, string>();

  private constructor(
    readonly ids: readonly NodeId[],
    private readonly options: MetadataClusterOptions,
  ) {}

  static async start(
    ids: readonly NodeId[],
    options: MetadataClusterOptions = {},
  ): Promise<MetadataCluster> {
    const cluster = new MetadataCluster(ids, options);
    const membership: Membership = { voters: [...ids], learners: [] };
    for (const id of ids) {
      const store = await cluster.openStore(id);
      store.createGroup(METADATA_GROUP_ID, membership);
      await store.sync();
      cluster.boot(id, store);
    }
    return cluster;
  }

  private async openStore(id: NodeId): Promise<RaftLogStore> {
    if (this.options.store === "file") {
      let dir = this.dirs.get(id);
      if (dir === undefined) {
        dir = await mkdtemp(join(tmpdir(), `warren-meta-${id}-`));
        this.dirs.set(id, dir);
      }
      return FileRaftLogStore.open(dir, { segmentSizeBytes: 64 * 1024 });
    }
    let disk = this.disks.get(id);
    if (disk === undefined) {
      disk = new MemoryLogDisk();
      this.disks.set(id, disk);
    }
    return new MemoryRaftLogStore(disk);
  }

  private boot(id: NodeId, store: RaftLogStore): MetaNode {
    const broker = new Broker({ ...DEFAULT_SETTINGS, nodeName: id }, silentLog, systemSources);
    const ticks = new IntervalTicks(this.options.tickMs ?? 10);
    const driver = new RaftDriver({
      nodeId: id,
      log: logWriterOf(store),
      transport: this.mesh.transport(id),
      ticks,
      raftOptions: { electionTicks: 10, heartbeatTicks: 1, random: Math.random },
    });
    const persisted = store.load(METADATA_GROUP_ID);
    if (persisted === undefined) throw new Error(`${id} has no metadata group`);
    const meta = startMetadataGroup({
      broker,
      driver,
      persisted,
      forwarder: this.mesh.forwarder(id),
      snapshotEveryEntries: this.options.snapshotEveryEntries,
      timers: REAL_TIMERS,
      timeoutMs: this.options.timeoutMs ?? 3000,
      retryMs: 20,
    });
    this.mesh.serve(id, meta.serveForwarded);
    driver.start();
    const node: MetaNode = { id, broker, driver, store, meta, ticks };
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): MetaNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  leader(): MetaNode | undefined {
    return [...this.nodes.values()].find(
      (n) =>
        !this.mesh.down.has(n.id) &&
        n.driver.machine(METADATA_GROUP_ID)?.status().role === "leader",
    );
  }

  async waitForLeader(timeoutMs = 5000): Promise<MetaNode> {
    await waitFor(() => this.leader() !== undefined, timeoutMs, "a metadata leader");
    return this.leader()!;
  }

  /** The default vhost and the guest user (password "guest"), as the first node would propose them. */
  async bootstrap(through: NodeId = this.ids[0]): Promise<void> {
    const broker = this.node(through).broker;
    await broker.submit({ type: "vhost.add", vhost: "/" });
    await broker.submit({
      type: "user.put",
      user: "guest",
      passwordHash: hashPassword("guest", randomBytes(4)),
      hashingAlgorithm: HASHING_ALGORITHM,
      tags: ["administrator"],
    });
    await broker.submit({
      type: "permission.set",
      vhost: "/",
      user: "guest",
      configure: ".*",
      write: ".*",
      read: ".*",
    });
  }

  /** Waits until every live node has applied everything the leader has. */
  async converged(timeoutMs = 5000): Promise<void> {
    await waitFor(
      () => {
        const leader = this.leader();
        if (leader === undefined) return false;
        const target = leader.meta.machine.appliedIndex();
        const commit = leader.driver.machine(METADATA_GROUP_ID)!.status().commitIndex;
        if (target < commit) return false;
        return [...this.nodes.values()].every(
          (n) => this.mesh.down.has(n.id) || n.meta.machine.appliedIndex() === target,
        );
      },
      timeoutMs,
      "every node applied the leader's log",
    );
  }

  isolate(id: NodeId): void {
    this.mesh.isolate(id, this.ids);
  }

  heal(): void {
    this.mesh.heal();
  }

  /** The process dies: its driver stops, its broker is gone; the log store keeps what it synced. */
  async crash(id: NodeId): Promise<void> {
    const node = this.node(id);
    this.mesh.down.add(id);
    node.driver.stop();
    await node.store.abandon();
  }

  async restart(id: NodeId): Promise<MetaNode> {
    this.mesh.down.delete(id);
    return this.boot(id, await this.openStore(id));
  }

  async stop(): Promise<void> {
    for (const node of this.nodes.values()) {
      node.driver.stop();
      if (!this.mesh.down.has(node.id)) await node.store.close().catch(() => {});
    }
    for (const dir of this.dirs.values()) await rm(dir, { recursive: true, force: true });
  }
}

export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
