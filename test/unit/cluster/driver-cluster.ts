/**
 * Several RaftDrivers in one process, for unit tests of the driver: each node has a
 * MemoryRaftLogStore (driven through logWriterOf, as the runtime drives the file store), a
 * fake transport whose messages wait in a mailbox until the test delivers them, and a clock
 * that ticks only when the test says. A crash opens a new store on the same memory disk, so
 * writes that were never synced are gone, and starts a new driver from what was durable.
 *
 * Every message is checked as it leaves against its sender's durable state (persist before
 * send, docs/RAFT.md): the check is in the transport, where a message can no longer be taken
 * back.
 */
import type {
  MessageReceiver,
  PeerTransport,
  ProposalOutcome,
  RaftDriverConfig,
  ReplicatedStateMachine,
  TickSource,
} from "../../../src/cluster/index.js";
import { logWriterOf, RaftDriver } from "../../../src/cluster/index.js";
import type {
  GroupId,
  GroupMessage,
  LogEntry,
  Membership,
  NodeId,
  RaftMessage,
  Snapshot,
} from "../../../src/raft/index.js";
import { MemoryLogDisk, MemoryRaftLogStore } from "../../../src/store/memory-raft-log-store.js";
import type { RaftLogStore } from "../../../src/store/raft-log-store.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A state machine that keeps the commands it applied, in order; a result is the count. */
export class ListStateMachine implements ReplicatedStateMachine<number> {
  commands: string[] = [];
  appliedIndex = 0;

  apply(entry: LogEntry): number {
    this.appliedIndex = entry.index;
    if (entry.kind === "command") this.commands.push(decoder.decode(entry.data));
    return this.commands.length;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.commands));
  }

  restore(snapshot: Snapshot): void {
    this.appliedIndex = snapshot.meta.index;
    this.commands = snapshot.data.byteLength === 0 ? [] : JSON.parse(decoder.decode(snapshot.data));
  }
}

/** A clock that ticks only when the test calls tick(). */
export class ManualClock implements TickSource {
  private onTick: (() => void) | null = null;

  start(onTick: () => void): void {
    this.onTick = onTick;
  }

  stop(): void {
    this.onTick = null;
  }

  tick(): void {
    this.onTick?.();
  }
}

/** Sends go to the cluster's mailbox; the test delivers them. */
class MailboxTransport implements PeerTransport {
  receiver: MessageReceiver = () => {};

  constructor(
    private readonly from: NodeId,
    private readonly cluster: DriverCluster,
  ) {}

  send(to: NodeId, messages: readonly GroupMessage[]): void {
    for (const message of messages) this.cluster.post(this.from, to, message);
  }

  onReceive(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }
}

export interface ClusterNode {
  readonly id: NodeId;
  readonly disk: MemoryLogDisk;
  driver: RaftDriver;
  store: RaftLogStore;
  clock: ManualClock;
  transport: MailboxTransport;
  /** The state machine of each group, replaced at every restart. */
  machines: Map<GroupId, ListStateMachine>;
  up: boolean;
}

export type DriverFactory = (config: RaftDriverConfig) => RaftDriver;

export interface DriverClusterOptions {
  readonly groups?: readonly GroupId[];
  readonly snapshotEveryEntries?: number;
  readonly createDriver?: DriverFactory;
}

interface Posted {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: GroupMessage;
}

export class DriverCluster {
  readonly nodes = new Map<NodeId, ClusterNode>();
  readonly groups: readonly GroupId[];
  /** Messages sent and not yet delivered. */
  private mailbox: Posted[] = [];
  private readonly cut = new Set<string>();
  /** Messages that left a node before the state they report was durable. */
  readonly earlySends: string[] = [];
  /** Messages checked against their sender's durable state, by type. */
  readonly checkedSends = new Map<string, number>();
  private syncsInFlight = 0;

  constructor(
    ids: readonly NodeId[],
    private readonly options: DriverClusterOptions = {},
  ) {
    this.groups = options.groups ?? ["g"];
    const membership: Membership = { voters: [...ids], learners: [] };
    for (const id of ids) {
      const disk = new MemoryLogDisk();
      const store = new MemoryRaftLogStore(disk);
      for (const groupId of this.groups) store.createGroup(groupId, membership);
      // A new group is created durably before it is driven.
      void store.sync();
      this.nodes.set(id, this.boot(id, disk));
    }
  }

  private boot(id: NodeId, disk: MemoryLogDisk): ClusterNode {
    const store = new MemoryRaftLogStore(disk);
    const writer = logWriterOf(store);
    const clock = new ManualClock();
    const transport = new MailboxTransport(id, this);
    const position = [...this.nodes.keys(), id].indexOf(id);
    const config: RaftDriverConfig = {
      nodeId: id,
      log: {
        write: (groupId, writes) => writer.write(groupId, writes),
        sync: (done) => {
          this.syncsInFlight++;
          writer.sync((error) => {
            this.syncsInFlight--;
            done(error);
          });
        },
      },
      transport,
      ticks: clock,
      // Distinct election timeouts, so the first node usually campaigns first.
      raftOptions: { electionTicks: 10, heartbeatTicks: 2, random: () => (position * 0.3) % 1 },
    };
    const driver = (this.options.createDriver ?? ((c) => new RaftDriver(c)))(config);
    const machines = new Map<GroupId, ListStateMachine>();
    for (const groupId of this.groups) {
      const persisted = store.load(groupId);
      if (persisted === undefined) throw new Error(`${id} has no group ${groupId}`);
      const stateMachine = new ListStateMachine();
      machines.set(groupId, stateMachine);
      driver.addGroup(groupId, {
        persisted,
        stateMachine,
        snapshotEveryEntries: this.options.snapshotEveryEntries,
      });
    }
    driver.start();
    return { id, disk, driver, store, clock, transport, machines, up: true };
  }

  node(id: NodeId): ClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Called by the transports: checks the message against the sender's disk, then queues it. */
  post(from: NodeId, to: NodeId, message: GroupMessage): void {
    this.checkDurable(from, message);
    this.mailbox.push({ from, to, message });
  }

  /**
   * Persist before send: what a message asserts about its sender must already be durable.
   * A vote or vote grant (not a pre-vote) needs its term and vote on disk; an append needs
   * the entries it carries; a successful append response needs the log up to its match index.
   */
  private checkDurable(from: NodeId, { groupId, message }: GroupMessage): void {
    const image = this.node(from).disk.images.get(groupId);
    if (image === undefined) return;
    const hard = image.currentHardState();
    const note = (problem: string | null) => {
      this.checkedSends.set(message.type, (this.checkedSends.get(message.type) ?? 0) + 1);
      if (problem !== null)
        this.earlySends.push(`${from} sent ${describeMessage(message)}: ${problem}`);
    };
    if (hard.term < message.term && !isPreVote(message)) {
      note(`its disk holds term ${hard.term}`);
      return;
    }
    switch (message.type) {
      case "vote":
        if (!message.preVote && hard.term === message.term && hard.votedFor !== from) {
          note(`its disk holds a vote for ${hard.votedFor}`);
        } else note(null);
        break;
      case "voteResponse":
        if (message.granted && !message.preVote && hard.votedFor !== message.to) {
          note(`its disk holds a vote for ${hard.votedFor}`);
        } else note(null);
        break;
      case "append": {
        const last = message.entries[message.entries.length - 1];
        if (last !== undefined && image.lastIndex() < last.index) {
          note(`its disk ends at ${image.lastIndex()}`);
        } else note(null);
        break;
      }
      case "appendResponse":
        if (message.success && image.lastIndex() < message.matchIndex) {
          note(`its disk ends at ${image.lastIndex()}`);
        } else note(null);
        break;
      default:
        break;
    }
  }

  /** Delivers every queued message (and what they cause) until nothing moves. */
  async settle(maxRounds = 200): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      // Let store syncs and the sends behind them complete.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.mailbox;
      this.mailbox = [];
      for (const { from, to, message } of batch) {
        const target = this.nodes.get(to);
        if (target === undefined || !target.up || this.cut.has(`${from}>${to}`)) continue;
        target.transport.receiver([message]);
      }
      if (batch.length === 0 && this.syncsInFlight === 0) return;
    }
    throw new Error("the cluster did not settle");
  }

  /** Ticks every live node once per round, settling after each. */
  async tickAll(rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      for (const node of this.nodes.values()) if (node.up) node.clock.tick();
      await this.settle();
    }
  }

  /** Ticks until exactly one live node leads the group; returns it. */
  async electLeader(groupId: GroupId = this.groups[0]): Promise<ClusterNode> {
    for (let round = 0; round < 100; round++) {
      const leaders = this.leaders(groupId);
      if (leaders.length === 1) return leaders[0];
      await this.tickAll(1);
    }
    throw new Error("no leader elected");
  }

  leaders(groupId: GroupId = this.groups[0]): ClusterNode[] {
    return [...this.nodes.values()].filter(
      (node) => node.up && node.driver.machine(groupId)?.status().role === "leader",
    );
  }

  /** Proposes on a node and settles until the outcome arrives. */
  async propose(
    id: NodeId,
    command: string,
    groupId: GroupId = this.groups[0],
  ): Promise<ProposalOutcome<number>> {
    let outcome: ProposalOutcome<number> | undefined;
    this.node(id).driver.propose(groupId, encoder.encode(command), (o) => {
      outcome = o as ProposalOutcome<number>;
    });
    for (let round = 0; round < 50 && outcome === undefined; round++) await this.tickAll(1);
    if (outcome === undefined) throw new Error(`no outcome for ${command}`);
    return outcome;
  }

  /** Cuts both directions between id and every other node. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** The process dies: the driver and the store's unsynced writes are gone; the disk stays. */
  crash(id: NodeId): void {
    const node = this.node(id);
    node.up = false;
    node.driver.stop();
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    this.nodes.set(id, this.boot(id, node.disk));
  }
}

function isPreVote(message: RaftMessage): boolean {
  return (message.type === "vote" || message.type === "voteResponse") && message.preVote;
}

function describeMessage(message: RaftMessage): string {
  return `${message.type} term ${message.term} to ${message.to}`;
}
