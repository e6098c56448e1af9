/**
 * A synchronous, scriptable cluster for transcript-style Raft tests (etcd-io/raft's
 * "network" helper, in spirit). Nothing happens unless the test says so: tick a node, then
 * settle() persists every Ready and delivers every message until the cluster is quiet.
 * Disk writes are durable at once unless a test takes a Ready by hand.
 */
import type {
  Membership,
  NodeId,
  RaftMessage,
  RaftOptions,
  Ready,
} from "../../../src/raft/index.js";
import {
  EMPTY_MEMBERSHIP,
  initialPersistedState,
  RaftMachine,
  raftOptions,
} from "../../../src/raft/index.js";
import type { PersistedState } from "../../../src/raft/types.js";
import { RaftLogImage, writesOfReady } from "../../../src/store/raft-log-image.js";

export type MachineFactory = (options: RaftOptions, persisted: PersistedState) => RaftMachine;

export interface TestClusterOptions {
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly maxAppendBytes?: number;
  readonly createMachine?: MachineFactory;
}

export interface TestNode {
  readonly id: NodeId;
  machine: RaftMachine;
  image: RaftLogImage;
  /** Commands applied by this node's state machine, as text, in order. */
  applied: string[];
  appliedIndex: number;
  up: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Every message sent and not yet delivered, oldest first. */
  inFlight: RaftMessage[] = [];
  /** Directed links that drop messages, as "from>to". */
  private readonly cutLinks = new Set<string>();
  /** Messages the test wants dropped, e.g. to lose one append. */
  dropIf: (message: RaftMessage) => boolean = () => false;
  readonly electionTicks: number;

  constructor(
    ids: readonly NodeId[],
    private readonly options: TestClusterOptions = {},
  ) {
    this.electionTicks = options.electionTicks ?? 10;
    const membership = { voters: [...ids], learners: [] };
    for (const id of ids) this.addNode(id, membership);
  }

  /** Starts a node with an empty disk; founding members get the initial membership. */
  addNode(id: NodeId, membership: Membership = EMPTY_MEMBERSHIP): TestNode {
    const image = new RaftLogImage(initialPersistedState(membership));
    const node: TestNode = {
      id,
      machine: this.createMachine(id, image.persistedState()),
      image,
      applied: [],
      appliedIndex: 0,
      up: true,
    };
    this.nodes.set(id, node);
    return node;
  }

  private createMachine(id: NodeId, persisted: PersistedState): RaftMachine {
    const options = raftOptions({
      id,
      electionTicks: this.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks ?? 1,
      preVote: this.options.preVote ?? true,
      checkQuorum: this.options.checkQuorum ?? true,
      maxAppendBytes: this.options.maxAppendBytes ?? 1024 * 1024,
      // Deterministic but distinct timeouts: s1 waits electionTicks, later nodes a bit more,
      // so simultaneous timeouts (and endless split votes) happen only when a test asks.
      random: () => this.timeoutJitter(id),
    });
    const create = this.options.createMachine ?? ((o, p) => new RaftMachine(o, p));
    return create(options, persisted);
  }

  private timeoutJitter(id: NodeId): number {
    const position = [...this.nodes.keys()].indexOf(id);
    return ((position < 0 ? this.nodes.size : position) * 0.13) % 1;
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  machine(id: NodeId): RaftMachine {
    return this.node(id).machine;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) if (this.node(id).up) this.node(id).machine.tick();
  }

  /** Ticks every live node once per round and settles after each round. */
  tickAll(rounds = 1): void {
    for (let r = 0; r < rounds; r++) {
      for (const node of this.nodes.values()) if (node.up) node.machine.tick();
      this.settle();
    }
  }

  /** Ticks id alone until its election timer fires, then settles: it campaigns. */
  campaign(id: NodeId): void {
    this.tickUntilCampaign(id);
    this.settle();
  }

  /** Ticks id until its election timer fires (its role or term changes); no delivery. */
  tickUntilCampaign(id: NodeId): void {
    const machine = this.machine(id);
    const before = machine.status();
    for (let i = 0; i < 3 * this.electionTicks; i++) {
      machine.tick();
      const now = machine.status();
      if (now.role !== before.role || now.term !== before.term) return;
    }
  }

  /** Persists and carries out one Ready of a node (durable at once); returns it. */
  processReady(id: NodeId, send = true): Ready | null {
    const node = this.node(id);
    if (!node.up || !node.machine.hasReady()) return null;
    const ready = node.machine.ready();
    for (const write of writesOfReady(ready)) node.image.apply(write);
    if (send) this.inFlight.push(...ready.messages);
    if (ready.snapshot !== null) {
      node.applied = decodeSnapshot(ready.snapshot.data);
      node.appliedIndex = ready.snapshot.meta.index;
    }
    for (const entry of ready.committed) {
      if (entry.index !== node.appliedIndex + 1) {
        throw new Error(`${id} applies ${entry.index} after ${node.appliedIndex}`);
      }
      node.appliedIndex = entry.index;
      if (entry.kind === "command") node.applied.push(decoder.decode(entry.data));
    }
    node.machine.advance(ready);
    return ready;
  }

  /** Delivers one message if its link is up; returns false if it was dropped. */
  deliver(message: RaftMessage): boolean {
    const target = this.nodes.get(message.to);
    if (target === undefined || !target.up) return false;
    if (this.cutLinks.has(`${message.from}>${message.to}`) || this.dropIf(message)) return false;
    target.machine.step(message);
    return true;
  }

  /** Runs Readies and deliveries until nothing moves. */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.nodes.keys()) {
        while (this.processReady(id) !== null) moved = true;
      }
      const batch = this.inFlight;
      this.inFlight = [];
      for (const message of batch) {
        this.deliver(message);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error("cluster did not settle");
  }

  /** Cuts both directions between every pair of nodes on different sides. */
  partition(...sides: NodeId[][]): void {
    for (const a of sides) {
      for (const b of sides) {
        if (a === b) continue;
        for (const from of a) for (const to of b) this.cutLinks.add(`${from}>${to}`);
      }
    }
  }

  isolate(id: NodeId): void {
    const others = [...this.nodes.keys()].filter((other) => other !== id);
    this.partition([id], others);
  }

  /** Drops messages from one node to another, one way only. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  heal(): void {
    this.cutLinks.clear();
  }

  /** Stops a node: its memory and undelivered messages to it are lost; its disk stays. */
  crash(id: NodeId): void {
    const node = this.node(id);
    node.up = false;
    this.inFlight = this.inFlight.filter((message) => message.to !== id);
  }

  /** Starts a crashed node from its disk; its state machine replays from the snapshot. */
  restart(id: NodeId): void {
    const node = this.node(id);
    const persisted = node.image.persistedState();
    node.machine = this.createMachine(id, persisted);
    node.applied = decodeSnapshot(persisted.snapshot.data);
    node.appliedIndex = persisted.snapshot.meta.index;
    node.up = true;
  }

  propose(id: NodeId, command: string) {
    return this.machine(id).propose(encoder.encode(command));
  }

  /** Has the node snapshot its applied commands and compact its log. */
  compact(id: NodeId): boolean {
    const node = this.node(id);
    return node.machine.compact(node.appliedIndex, encodeSnapshot(node.applied));
  }

  /** The live nodes that believe they lead. */
  leaders(): NodeId[] {
    return [...this.nodes.values()]
      .filter((node) => node.up && node.machine.status().role === "leader")
      .map((node) => node.id);
  }

  /** The commands in a node's log from firstIndex on, as text; "-" marks noop/membership. */
  logOf(id: NodeId): string[] {
    const machine = this.machine(id);
    const { firstIndex, lastIndex } = machine.status();
    const out: string[] = [];
    for (let index = firstIndex; index <= lastIndex; index++) {
      const entry = machine.entryAt(index)!;
      out.push(entry.kind === "command" ? decoder.decode(entry.data) : "-");
    }
    return out;
  }
}

function encodeSnapshot(applied: string[]): Uint8Array {
  return encoder.encode(JSON.stringify(applied));
}

function decodeSnapshot(data: Uint8Array): string[] {
  return data.byteLength === 0 ? [] : (JSON.parse(decoder.decode(data)) as string[]);
}
