/**
 * One quorum queue on its Raft group, in the deterministic simulator: 3 nodes (5 for every
 * fourth seed), each running the production RaftDriver with the production
 * QuorumStateMachine over the simulated disk, network and clock (sim-node.ts), while the
 * nemesis of the Raft simulation (nemesis.ts) partitions, crashes (losing unsynced writes),
 * restarts, pauses and changes the network's weather.
 *
 * Clients (quorum-queue-sim-clients.ts) run on the nodes as the runtime will: publishers
 * propose enqueues to the leader and count a publish confirmed only when its outcome comes
 * back applied and accepted; consumers check out, receive the deliveries the leader sends
 * when it applies an entry (followers apply the same and send nothing), and settle, return
 * or reject them. A new leader re-sends every message checked out to its live consumers
 * (they ignore what they already have: a delivery is named by the message id and its
 * generation, the number of times the message was checked out). When a node goes down, the
 * leader proposes a node-down for that incarnation, which returns what its consumers held.
 *
 * Checks: the Raft invariants (invariant-checker.ts), with State Machine Safety over the
 * queue machine's snapshot bytes; the ledger (quorum-queue-sim-ledger.ts) on the committed
 * log; a consumer receiving a message it had before must see redelivered=true; and after the
 * liveness phase (healed, calm, every node up, consumers draining everything): no confirmed
 * publish lost, every replica's machine byte-equal at the same applied index.
 */
import { DEFAULT_QUORUM_CONFIG } from "../../src/quorum/quorum-commands.js";
import type { QuorumApplyResult, QuorumDelivery } from "../../src/quorum/quorum-machine.js";
import type { GroupId, NodeId } from "../../src/raft/index.js";
import { RaftMachine } from "../../src/raft/index.js";
import type { ClusterSim } from "./cluster-sim.js";
import { EventQueue } from "./event-queue.js";
import type { Violation } from "./invariant-checker.js";
import { InvariantChecker } from "./invariant-checker.js";
import { Nemesis } from "./nemesis.js";
import { Prng } from "./prng.js";
import type { ClientLedger, ClientWorld, Leader, Origin } from "./quorum-queue-sim-clients.js";
import { ClientLink, originName, SimConsumer, SimPublisher } from "./quorum-queue-sim-clients.js";
import { QQ_GROUP, QuorumLedger } from "./quorum-queue-sim-ledger.js";
import { QuorumReplica } from "./quorum-queue-sim-replica.js";
import { CALM_NETWORK, SimNetwork } from "./sim-network.js";
import type { NodeSettings, SimWorld } from "./sim-node.js";
import { CORRECT_DRIVER, SimNode } from "./sim-node.js";

export interface QuorumSimConfig {
  readonly seed: number;
  /** Replicas; by default 3, or 5 for every fourth seed. */
  readonly nodeCount?: number;
  readonly chaosMs?: number;
  readonly livenessMs?: number;
  readonly faults?: boolean;
  readonly trace?: (line: string) => void;
  /**
   * Whether a publisher confirms when the leader accepts its proposal (true: the planted bug
   * "confirm before commit", planted-bugs.ts) rather than when it is applied.
   */
  readonly confirmOnAccept?: boolean;
  /**
   * x-max-length with reject-publish (publishes over it are nacked). Off by default: a
   * rejected publish resent after its answer was lost is answered as an accepted duplicate
   * by the machine today, a confirmed publish never enqueued (docs/RAFT.md §6.6).
   */
  readonly maxLength?: number;
}

export interface QuorumSimResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly violations: readonly Violation[];
  readonly faults: number;
  readonly published: number;
  readonly confirmed: number;
  readonly nacked: number;
  readonly maxLength: number | undefined;
  readonly deliveries: number;
  readonly redeliveries: number;
  /** Publishes of crashed publishers enqueued twice (allowed: not confirmed). */
  readonly duplicates: number;
  readonly lost: number;
  readonly nodeDowns: number;
  readonly elections: number;
  readonly committedEntries: number;
  readonly simulatedMs: number;
}

export const QQ_CHAOS_MS = 3_000;
export const QQ_LIVENESS_MS = 12_000;
/** Publishers go on this long into the liveness phase; then everything is drained. */
const PUBLISHING_IN_LIVENESS_MS = 300;
const CLIENT_TICK_MS = 10;

export class QuorumQueueSim implements SimWorld, ClientWorld, ClientLedger {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly checker: InvariantChecker;
  readonly network: SimNetwork;
  readonly settings: NodeSettings;
  readonly createDriver = CORRECT_DRIVER;
  readonly createMachine = (...args: ConstructorParameters<typeof RaftMachine>) =>
    new RaftMachine(...args);
  readonly nodes = new Map<NodeId, SimNode>();
  readonly groupIds: GroupId[] = [QQ_GROUP];
  readonly nodeCount: number;
  readonly ledger: QuorumLedger;
  private readonly nemesis: Nemesis;
  private readonly incarnations = new Map<NodeId, number>();
  private readonly replicas = new Map<NodeId, QuorumReplica>();
  /** Incarnations known to be down, by machine name, and whether their node-down applied. */
  private readonly downs = new Map<string, boolean>();
  private readonly leaderAgent: ClientLink;
  private readonly publishers: SimPublisher[] = [];
  private readonly consumers = new Map<string, SimConsumer>();
  private readonly confirmed = new Set<string>();
  private readonly receipts = new Map<number, number>();
  private nacked = 0;
  private clientCount = 0;
  private readonly publisherTarget: number;
  /** x-max-length with overflow reject-publish (off unless configured). */
  private readonly maxLength: number | undefined;
  private readonly consumerTarget: number;
  private liveness = false;
  private publishing = true;

  constructor(private readonly config: QuorumSimConfig) {
    this.prng = new Prng(config.seed);
    const prng = this.prng;
    this.nodeCount = config.nodeCount ?? (config.seed % 4 === 0 ? 5 : 3);
    this.checker = new InvariantChecker(() => this.queue.nowMs);
    this.network = new SimNetwork(this.queue, this.prng, (to, message) =>
      this.nodes.get(to)?.receive(message),
    );
    // One entry per append (odd prefixes on the replicas) only with room to pipeline and a
    // quick disk: the queue's clients need the group to keep up with them once healed.
    const oneEntry = prng.chance(0.25);
    this.settings = {
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxAppendBytes: oneEntry ? 1 : prng.pick([1024, 64 * 1024]),
      maxInflightAppends: oneEntry ? 64 : prng.pick([1, 4, 64]),
      maxUncommittedEntries: prng.pick([16, 64, 256]),
      minDiskLatencyMs: 0.1,
      maxDiskLatencyMs: oneEntry ? prng.pick([1, 5]) : prng.pick([1, 5, 20]),
      snapshotEveryEntries: prng.int(4, 80),
      tornWriteProbability: 0.5,
      maxSendDelayMs: prng.pick([0.2, 2]),
    };
    this.publisherTarget = prng.int(1, 3);
    this.maxLength = config.maxLength;
    this.consumerTarget = prng.int(1, 3);
    this.ledger = new QuorumLedger(
      () => this.queue.nowMs,
      (publisher) => this.publishers.some((p) => p.key === publisher && p.alive()),
    );
    this.leaderAgent = new ClientLink(this, null);
    // Nemesis reads only what ClusterSim and this simulation both have (nodes, network,
    // queue, prng, groupIds, leaders, trace).
    this.nemesis = new Nemesis(this as unknown as ClusterSim);
    this.checker.onNewLeader = (groupId, nodeId) => {
      this.trace(`${nodeId} leads ${groupId}`);
      if (config.faults ?? true) this.nemesis.onNewLeader(nodeId);
      this.queue.after(0, () => this.resendCheckedOut(nodeId));
    };
  }

  trace(line: string): void {
    this.config.trace?.(`${this.queue.nowMs.toFixed(1).padStart(8)}ms ${line}`);
  }

  // ------------------------------------------------------------ the world of the nodes

  stateMachineFor(
    _groupId: GroupId,
    report: (index: number, stateHash: number) => void,
    nodeId: NodeId,
  ) {
    // A node starting its group is a new incarnation: its previous one is down.
    const previous = this.incarnations.get(nodeId);
    if (previous !== undefined) this.wentDown({ node: nodeId, incarnation: previous });
    this.incarnations.set(nodeId, (previous ?? 0) + 1);
    const replica = new QuorumReplica(nodeId, this, report);
    this.replicas.set(nodeId, replica);
    // The driver's result type is the machine's; the shared SimWorld speaks of strings.
    return replica as unknown as ReturnType<SimWorld["stateMachineFor"]>;
  }

  node(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  incarnationOf(id: NodeId): number {
    return this.incarnations.get(id) ?? 0;
  }

  alive(origin: Origin | null): boolean {
    if (origin === null) return true;
    return (
      this.nodes.get(origin.node)?.up === true &&
      this.incarnations.get(origin.node) === origin.incarnation
    );
  }

  leaderFor(origin: Origin | null): Leader | undefined {
    const status =
      origin === null
        ? this.newestLeader()?.machine(QQ_GROUP)?.status()
        : this.nodes.get(origin.node)?.machine(QQ_GROUP)?.status();
    if (status === undefined) return undefined;
    const id = status.role === "leader" ? status.id : status.leaderId;
    return id === null ? undefined : { id, term: status.term };
  }

  leaders(groupId: GroupId): SimNode[] {
    return [...this.nodes.values()].filter(
      (node) => node.machine(groupId)?.status().role === "leader",
    );
  }

  private newestLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.leaders(QQ_GROUP)) {
      const term = node.machine(QQ_GROUP)!.status().term;
      if (term > bestTerm) {
        best = node;
        bestTerm = term;
      }
    }
    return best;
  }

  private isLeader(nodeId: NodeId): boolean {
    return this.nodes.get(nodeId)?.machine(QQ_GROUP)?.status().role === "leader";
  }

  // ------------------------------------------------------------ effects, on the leader only

  /** A replica applied an entry with effects; only a leader carries them out. */
  applied(nodeId: NodeId, result: QuorumApplyResult): void {
    if (!this.isLeader(nodeId)) return;
    const machine = this.replicas.get(nodeId)!.machine;
    for (const effect of result.effects) {
      if (effect.type !== "deliver") continue;
      for (const delivery of effect.deliveries) {
        const generation = machine.messages.get(delivery.id)?.acquired ?? 0;
        this.carry(nodeId, effect.consumer, delivery, generation);
      }
    }
  }

  committed(...args: Parameters<QuorumLedger["committed"]>): void {
    this.ledger.committed(...args);
  }

  /** A new leader re-sends every message its machine has checked out to a consumer. */
  private resendCheckedOut(nodeId: NodeId): void {
    if (!this.isLeader(nodeId)) return;
    const machine = this.replicas.get(nodeId)!.machine;
    for (const consumer of machine.consumers.values()) {
      if (consumer.getter) continue;
      for (const message of consumer.checkedOut.values()) {
        const delivery: QuorumDelivery = {
          id: message.id,
          attempt: message.acquired,
          payload: message.payload,
          deliveryCount: message.deliveryCount,
          redelivered: message.acquired > 1,
        };
        this.carry(nodeId, consumer.key, delivery, message.acquired);
      }
    }
  }

  /**
   * A delivery from the leader's node to its consumer's node: held back while the link is
   * cut (TCP retransmits), lost if either end crashes first.
   */
  private carry(from: NodeId, consumerKey: string, delivery: QuorumDelivery, generation: number) {
    const consumer = this.consumers.get(consumerKey);
    if (consumer === undefined) return;
    const sender: Origin = { node: from, incarnation: this.incarnationOf(from) };
    const c = this.network.conditions;
    const attempt = () => {
      if (!this.alive(sender) || !consumer.alive()) return;
      if (this.network.isCut(from, consumer.origin.node)) {
        this.queue.after(this.prng.between(10, 50), attempt);
        return;
      }
      const node = this.nodes.get(consumer.origin.node)!;
      if (node.paused()) {
        this.queue.at(node.pausedUntilMs, attempt);
        return;
      }
      consumer.receive(delivery, generation);
    };
    this.queue.after(this.prng.between(c.minDelayMs, c.maxDelayMs), attempt);
  }

  // ------------------------------------------------------------ what clients report

  confirm(key: string): void {
    this.confirmed.add(key);
  }

  nack(_key: string): void {
    this.nacked++;
  }

  /** A consumer got a delivery it had not seen: a message seen before must be redelivered. */
  received(consumer: SimConsumer, delivery: QuorumDelivery, generation: number): void {
    const before = this.receipts.get(delivery.id) ?? 0;
    this.receipts.set(delivery.id, before + 1);
    if (before > 0 && !delivery.redelivered) {
      this.ledger.fault(
        "redelivered flag",
        `${consumer.key} received message ${delivery.id} (generation ${generation}) again ` +
          "without redelivered=true",
      );
    }
    this.trace(
      `${consumer.key} gets ${delivery.id}/${generation}${delivery.redelivered ? " (redelivered)" : ""}`,
    );
  }

  // ------------------------------------------------------------ the run

  run(): QuorumSimResult {
    const founders = Array.from({ length: this.nodeCount }, (_, i) => `n${i + 1}`);
    const membership = { voters: founders, learners: [] };
    for (const id of founders) {
      const node = new SimNode(id, this);
      this.nodes.set(id, node);
      node.start();
      node.hostGroup(QQ_GROUP, membership);
    }
    if (this.maxLength !== undefined) {
      const config = {
        ...DEFAULT_QUORUM_CONFIG,
        maxLength: this.maxLength,
        overflow: "reject-publish" as const,
      };
      this.trace(`config: x-max-length ${this.maxLength}, reject-publish`);
      this.leaderAgent.submit({ type: "config", config, nowMs: 0 });
    }
    const chaosMs = this.config.chaosMs ?? QQ_CHAOS_MS;
    const deadlineMs = chaosMs + (this.config.livenessMs ?? QQ_LIVENESS_MS);
    this.loop(
      () => CLIENT_TICK_MS,
      deadlineMs,
      () => this.tickClients(),
    );
    if (this.config.faults ?? true) {
      this.loop(
        () => this.prng.between(40, 400),
        chaosMs,
        () => this.nemesis.strike(),
      );
    }
    const stop = () => this.violationCount() > 0;
    try {
      this.queue.runUntil(chaosMs, stop);
      if (!stop()) {
        this.heal();
        this.queue.after(PUBLISHING_IN_LIVENESS_MS, () => {
          this.publishing = false;
        });
        let checks = 0;
        this.queue.runUntil(deadlineMs, () => stop() || (++checks % 32 === 0 && this.drained()));
        if (!stop()) this.checkEnd();
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.checker.fault("assertion", QQ_GROUP, message);
    }
    return this.result();
  }

  private violationCount(): number {
    return this.checker.violations.length + this.ledger.violations.length;
  }

  private loop(intervalMs: () => number, untilMs: number, action: () => void): void {
    const next = () => {
      if (this.queue.nowMs >= untilMs) return;
      action();
      this.queue.after(intervalMs(), next);
    };
    this.queue.after(intervalMs(), next);
  }

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.paused());
  }

  private originOn(node: SimNode): Origin {
    return { node: node.id, incarnation: this.incarnationOf(node.id) };
  }

  /** Every client tick: notice crashes, resend, keep enough publishers and consumers. */
  private tickClients(): void {
    for (const node of this.nodes.values()) {
      if (!node.up) this.wentDown(this.originOn(node));
    }
    this.leaderAgent.tick();
    for (const p of this.publishers) if (p.alive()) p.link.tick();
    for (const c of this.consumers.values()) c.link.tick();
    const { prng } = this;
    const livePublishers = this.publishers.filter((p) => p.alive());
    if (this.publishing) {
      if (livePublishers.length < this.publisherTarget && prng.chance(0.2)) this.addPublisher();
      for (const p of livePublishers) if (prng.chance(0.3)) p.publish();
    }
    const live = [...this.consumers.values()].filter((c) => c.alive() && !c.cancelled);
    if (live.length < this.consumerTarget && prng.chance(this.liveness ? 1 : 0.1)) {
      this.addConsumer();
    }
    if (!this.liveness && live.length > 0) {
      const roll = prng.next();
      if (roll < 0.004) {
        const c = prng.pick(live);
        this.trace(`${c.key} closes its channel`);
        c.close();
      } else if (roll < 0.008) {
        const c = prng.pick(live);
        this.trace(`${c.key} cancels`);
        c.cancel();
        this.queue.after(prng.between(50, 500), () => c.close());
      }
    }
  }

  private addPublisher(): void {
    const up = this.upNodes();
    if (up.length === 0) return;
    const origin = this.originOn(this.prng.pick(up));
    const key = `${originName(origin)}:p${++this.clientCount}`;
    this.publishers.push(
      new SimPublisher(this, this, key, origin, this.config.confirmOnAccept === true),
    );
    this.trace(`publisher ${key} starts`);
  }

  private addConsumer(): void {
    const up = this.upNodes();
    if (up.length === 0) return;
    const origin = this.originOn(this.prng.pick(up));
    const key = `${originName(origin)}:c${++this.clientCount}`;
    const window = this.prng.pick([1, 2, 3, 10, 50]);
    const consumer = new SimConsumer(this, this, key, origin, window, () => this.liveness);
    this.consumers.set(key, consumer);
    this.trace(`consumer ${key} checks out with window ${window}`);
    consumer.start();
  }

  /**
   * An incarnation went down: its clients are gone, and the leader learns of it (as the
   * cluster's membership tells the runtime) and proposes a node-down for it.
   */
  private wentDown(origin: Origin): void {
    const name = originName(origin);
    if (this.downs.has(name)) return;
    this.downs.set(name, false);
    this.queue.after(this.prng.between(10, 80), () => {
      this.trace(`node-down ${name} proposed`);
      this.leaderAgent.submit(
        { type: "node-down", node: name, nowMs: Math.floor(this.queue.nowMs) },
        () => this.downs.set(name, true),
      );
    });
  }

  /** The liveness phase: every link up, calm weather, every node up, consumers drain. */
  private heal(): void {
    this.trace("liveness phase: healed, calm, every node up, consumers drain");
    this.liveness = true;
    this.nemesis.active = false;
    this.network.heal();
    this.network.conditions = { ...CALM_NETWORK };
    for (const node of this.nodes.values()) {
      node.pausedUntilMs = 0;
      if (!node.up) node.start();
    }
  }

  /** Publishing is over, everything answered, nothing left in the queue, replicas caught up. */
  private drained(): boolean {
    if (this.publishing || this.leaderAgent.pending.length > 0) return false;
    if (this.publishers.some((p) => p.alive() && p.link.pending.length > 0)) return false;
    if ([...this.consumers.values()].some((c) => this.alive(c.origin) && c.link.pending.length > 0))
      return false;
    if (this.ledger.openCount() > 0) return false;
    const leader = this.newestLeader();
    if (leader === undefined) return false;
    const { commitIndex } = leader.machine(QQ_GROUP)!.status();
    if (commitIndex !== this.ledger.appliedIndex) return false;
    return [...this.nodes.values()].every(
      (n) => n.up && this.replicas.get(n.id)!.appliedIndex === commitIndex,
    );
  }

  private checkEnd(): void {
    if (!this.drained()) {
      const leader = this.newestLeader();
      const m = leader === undefined ? undefined : this.replicas.get(leader.id)!.machine;
      this.ledger.fault(
        "drain",
        `not drained ${this.config.livenessMs ?? QQ_LIVENESS_MS} ms after healing: ` +
          `${this.ledger.openCount()} messages open` +
          (m === undefined
            ? ", no leader"
            : `, leader ${leader!.id} holds ${m.readyCount} ready, ${m.checkedOutCount} checked out ` +
              `(${[...m.consumers.values()].map((c) => `${c.key}:${c.checkedOut.size}`).join(" ")})`) +
          `; pending: agent ${this.leaderAgent.pending.length}, publishers ` +
          `${this.publishers.reduce((n, p) => n + (p.alive() ? p.link.pending.length : 0), 0)}`,
      );
    }
    const lost = this.ledger.lost(this.confirmed);
    if (lost.length > 0) {
      this.ledger.fault(
        "confirmed message lost",
        `${lost.length} of ${this.confirmed.size} confirmed: ${lost.slice(0, 5).join(", ")}`,
      );
    }
    // Replicas at the same applied index hold byte-equal machines.
    const byIndex = new Map<number, { id: NodeId; bytes: Uint8Array }>();
    for (const [id, replica] of this.replicas) {
      const bytes = replica.snapshot();
      const reference = byIndex.get(replica.appliedIndex);
      if (reference === undefined) byIndex.set(replica.appliedIndex, { id, bytes });
      else if (Buffer.compare(Buffer.from(bytes), Buffer.from(reference.bytes)) !== 0) {
        this.checker.fault(
          "replicas differ",
          QQ_GROUP,
          `${id} and ${reference.id} at index ${replica.appliedIndex} hold different machines`,
        );
      }
    }
  }

  private result(): QuorumSimResult {
    const violations = [...this.checker.violations, ...this.ledger.violations].sort(
      (a, b) => a.timeMs - b.timeMs,
    );
    return {
      seed: this.config.seed,
      nodeCount: this.nodeCount,
      violations,
      faults: this.nemesis.total,
      published: this.publishers.reduce((n, p) => n + p.published, 0),
      confirmed: this.confirmed.size,
      nacked: this.nacked,
      maxLength: this.maxLength,
      deliveries: this.ledger.deliveries,
      redeliveries: this.ledger.redeliveries,
      duplicates: this.ledger.duplicates,
      lost: this.ledger.lost(this.confirmed).length,
      nodeDowns: [...this.downs.values()].filter(Boolean).length,
      elections: this.checker.elections,
      committedEntries: this.checker.maxCommitted(QQ_GROUP),
      simulatedMs: this.queue.nowMs,
    };
  }
}

export function runQuorumSimulation(config: QuorumSimConfig): QuorumSimResult {
  return new QuorumQueueSim(config).run();
}
