/**
 * A deterministic simulation of a Warren cluster running several Raft groups, in the spirit
 * of TigerBeetle's VOPR: one seeded PRNG drives the network, the disks, the clocks, the
 * clients and a nemesis that injects faults. A run has two phases:
 *
 *   chaos     - faults, client proposals, membership changes and leadership transfers;
 *   liveness  - the network heals and every node restarts; within a bounded time each group
 *               must elect a leader, commit a new proposal and bring every member up to it.
 *
 * Safety invariants are checked continuously (invariant-checker.ts); a run replays exactly
 * from its seed.
 */
import type { MachineFactory, ReplicatedStateMachine } from "../../src/cluster/index.js";
import type { GroupId, MembershipChange, NodeId } from "../../src/raft/index.js";
import { EMPTY_MEMBERSHIP, RaftMachine } from "../../src/raft/index.js";
import { EventQueue } from "./event-queue.js";
import { HashStateMachine } from "./hash-state-machine.js";
import type { Violation } from "./invariant-checker.js";
import { InvariantChecker } from "./invariant-checker.js";
import { MetadataSimMachine, metadataProposal } from "./metadata-sim-machine.js";
import { Nemesis } from "./nemesis.js";
import { Prng } from "./prng.js";
import { CALM_NETWORK, SimNetwork } from "./sim-network.js";
import type { DriverFactory, NodeSettings, SimWorld } from "./sim-node.js";
import { CORRECT_DRIVER, SimNode } from "./sim-node.js";

export interface SimConfig {
  readonly seed: number;
  /** Founding voters per group; by default 3, 5 or 7 chosen by the seed. */
  readonly nodeCount?: number;
  readonly groupCount?: number;
  readonly chaosMs?: number;
  readonly livenessMs?: number;
  readonly faults?: boolean;
  readonly membershipChanges?: boolean;
  readonly createMachine?: MachineFactory;
  /** Builds each node's Raft driver; a planted bug may use a subclass. */
  readonly createDriver?: DriverFactory;
  readonly trace?: (line: string) => void;
  /**
   * The first group ("meta") is the metadata group: its entries are metadata commands applied
   * to each node's definitions by the production MetadataMachine (metadata-sim-machine.ts).
   */
  readonly metadata?: boolean;
  /** Overrides of the per-seed node settings, e.g. a slow disk. */
  readonly settings?: Partial<NodeSettings>;
}

export interface SimResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly violations: readonly Violation[];
  readonly faults: number;
  readonly faultCounts: Readonly<Record<string, number>>;
  readonly proposals: number;
  readonly confirmed: number;
  readonly committedEntries: number;
  readonly elections: number;
  readonly membershipChanges: number;
  readonly messages: number;
  readonly simulatedMs: number;
}

export const DEFAULT_CHAOS_MS = 10_000;
export const DEFAULT_LIVENESS_MS = 10_000;
/** After the first commit, time allowed for every member to apply it (slow settings replicate
 * one entry per round trip). */
export const CONVERGENCE_MS = 15_000;

interface Confirmation {
  readonly groupId: GroupId;
  readonly index: number;
  readonly key: string;
}

export class ClusterSim implements SimWorld {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly checker: InvariantChecker;
  readonly network: SimNetwork;
  readonly settings: NodeSettings;
  readonly createDriver: DriverFactory;
  readonly createMachine: MachineFactory;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly groupIds: GroupId[];
  readonly nodeCount: number;
  private readonly spareIds: NodeId[];
  private readonly confirmed: Confirmation[] = [];
  private readonly confirmedKeys = new Set<string>();
  /** Proposals the driver reported lost: another entry was applied at their index. */
  private readonly lost: Confirmation[] = [];
  private proposals = 0;
  membershipChanges = 0;
  private readonly nemesis: Nemesis;

  constructor(private readonly config: SimConfig) {
    this.prng = new Prng(config.seed);
    this.nodeCount = config.nodeCount ?? [3, 5, 7][config.seed % 3];
    this.groupIds = Array.from({ length: config.groupCount ?? 2 }, (_, i) =>
      i === 0 ? "meta" : `q${i}`,
    );
    this.checker = new InvariantChecker(() => this.queue.nowMs);
    this.network = new SimNetwork(this.queue, this.prng, (to, message) =>
      this.nodes.get(to)?.receive(message),
    );
    const prng = this.prng;
    // Sometimes one entry per append, so replicas can be left holding odd prefixes.
    const maxAppendBytes = prng.chance(0.5) ? 1 : prng.pick([64, 256, 64 * 1024]);
    this.settings = {
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxAppendBytes,
      maxInflightAppends: prng.pick([1, 4, 64]),
      // Backpressure bounds the backlog a healed cluster must replicate; one entry per
      // append over a 50 ms disk moves about 30 entries a second, hence the smaller cap.
      maxUncommittedEntries: prng.pick(maxAppendBytes === 1 ? [16, 64] : [16, 64, 256]),
      minDiskLatencyMs: 0.1,
      maxDiskLatencyMs: prng.pick([1, 5, 20, 50]),
      snapshotEveryEntries: prng.int(4, 60),
      tornWriteProbability: 0.5,
      maxSendDelayMs: prng.pick([0.2, 2]),
      ...config.settings,
    };
    this.createDriver = config.createDriver ?? CORRECT_DRIVER;
    this.createMachine =
      config.createMachine ?? ((options, persisted) => new RaftMachine(options, persisted));
    this.spareIds = [`n${this.nodeCount + 1}`, `n${this.nodeCount + 2}`];
    this.nemesis = new Nemesis(this);
    if (config.faults ?? true) {
      this.checker.onNewLeader = (groupId, nodeId) => {
        this.trace(`${nodeId} leads ${groupId}`);
        this.nemesis.onNewLeader(nodeId);
      };
    }
  }

  trace(line: string): void {
    this.config.trace?.(`${this.queue.nowMs.toFixed(1).padStart(8)}ms ${line}`);
  }

  run(): SimResult {
    const founders = Array.from({ length: this.nodeCount }, (_, i) => `n${i + 1}`);
    const membership = { voters: founders, learners: [] };
    for (const id of founders) {
      const node = this.addNode(id);
      for (const groupId of this.groupIds) node.hostGroup(groupId, membership);
    }
    const chaosMs = this.config.chaosMs ?? DEFAULT_CHAOS_MS;
    this.loop(
      () => this.prng.between(2, 25),
      chaosMs,
      () => this.proposeSomething(),
    );
    if (this.config.faults ?? true) {
      this.loop(
        () => this.prng.between(40, 400),
        chaosMs,
        () => this.nemesis.strike(),
      );
    }
    if (this.config.membershipChanges ?? true) {
      this.loop(
        () => this.prng.between(100, 600),
        chaosMs,
        () => this.changeSomething(),
      );
    }
    const stop = () => this.checker.violations.length > 0;
    try {
      this.queue.runUntil(chaosMs, stop);
      if (!stop()) this.checkLiveness(chaosMs + (this.config.livenessMs ?? DEFAULT_LIVENESS_MS));
      if (!stop()) this.checkConfirmedSurvived();
      if (!stop()) this.checkLostNeverCommitted();
    } catch (error) {
      // The core's own assertions (e.g. a follower asked to overwrite a committed entry).
      const message = error instanceof Error ? error.message : String(error);
      this.checker.fault("assertion", "-", message);
    }
    return this.result();
  }

  private addNode(id: NodeId): SimNode {
    const node = new SimNode(id, this);
    this.nodes.set(id, node);
    node.start();
    return node;
  }

  private loop(intervalMs: () => number, untilMs: number, action: () => void): void {
    const next = () => {
      if (this.queue.nowMs >= untilMs) return;
      action();
      this.queue.after(intervalMs(), next);
    };
    this.queue.after(intervalMs(), next);
  }

  /** Live nodes that believe they lead the group. */
  leaders(groupId: GroupId): SimNode[] {
    return [...this.nodes.values()].filter(
      (node) => node.machine(groupId)?.status().role === "leader",
    );
  }

  private proposeSomething(): void {
    const groupId = this.prng.pick(this.groupIds);
    const leaders = this.leaders(groupId);
    if (leaders.length === 0) return;
    const key = this.isMetadataGroup(groupId)
      ? metadataProposal(this.prng, this.proposals)
      : `p${this.proposals}`;
    this.propose(this.prng.pick(leaders), groupId, key);
  }

  private isMetadataGroup(groupId: GroupId): boolean {
    return this.config.metadata === true && groupId === this.groupIds[0];
  }

  stateMachineFor(
    groupId: GroupId,
    report: (index: number, stateHash: number) => void,
  ): ReplicatedStateMachine<string> {
    return this.isMetadataGroup(groupId)
      ? new MetadataSimMachine(report, () => this.queue.nowMs)
      : new HashStateMachine(report);
  }

  /**
   * A proposal is confirmed when the driver that accepted it reports it applied (at its
   * index, with its term), as a quorum queue confirms a publish.
   */
  private propose(node: SimNode, groupId: GroupId, key: string): void {
    this.proposals++;
    node.propose(groupId, key, (outcome) => {
      if (outcome.status === "lost") {
        this.lost.push({ groupId, index: outcome.index, key });
        return;
      }
      if (outcome.status !== "applied") return;
      if (outcome.result !== key) {
        this.checker.fault(
          "confirmation",
          groupId,
          `${node.id} applied ${outcome.result} for ${key}`,
        );
        return;
      }
      this.confirmed.push({ groupId, index: outcome.index, key });
      this.confirmedKeys.add(key);
    });
  }

  private changeSomething(): void {
    const groupId = this.prng.pick(this.groupIds);
    const leader = this.leaders(groupId)[0];
    const machine = leader?.machine(groupId);
    if (leader === undefined || machine === undefined) return;
    const { voters, learners } = machine.status().membership;
    if (this.prng.chance(0.15)) {
      const target = this.prng.pick(voters);
      this.trace(`${leader.id} transfers ${groupId} to ${target}`);
      leader.act(groupId, (driver) => driver.transferLeadership(groupId, target));
      return;
    }
    let change: MembershipChange;
    if (learners.length > 0) {
      const nodeId = this.prng.pick(learners);
      change = this.prng.chance(0.8)
        ? { type: "promoteLearner", nodeId }
        : { type: "removeNode", nodeId };
    } else if (voters.length >= 3 && this.prng.chance(0.5)) {
      change = { type: "removeNode", nodeId: this.prng.pick(voters) };
    } else {
      const outsiders = [...this.nodes.keys(), ...this.spareIds].filter(
        (id) => !voters.includes(id) && !learners.includes(id),
      );
      if (outsiders.length === 0) return;
      const nodeId = this.prng.pick([...new Set(outsiders)]);
      const joiner = this.nodes.get(nodeId) ?? this.addNode(nodeId);
      if (!joiner.hosts(groupId)) joiner.hostGroup(groupId, EMPTY_MEMBERSHIP);
      change = { type: "addLearner", nodeId };
    }
    const result = leader.act(groupId, (driver) => driver.changeMembership(groupId, change));
    if (result?.ok) {
      this.membershipChanges++;
      this.trace(`${leader.id} proposes ${change.type} ${change.nodeId} in ${groupId}`);
    }
  }

  /**
   * Heals everything, then requires each group to elect a leader and commit a fresh proposal
   * within livenessMs, and every member to apply it within CONVERGENCE_MS more.
   */
  private checkLiveness(deadlineMs: number): void {
    this.trace("liveness phase: network healed, all nodes restarted");
    this.nemesis.active = false;
    this.network.heal();
    this.network.conditions = { ...CALM_NETWORK };
    for (const node of this.nodes.values()) {
      node.pausedUntilMs = 0;
      if (!node.up) node.start();
    }
    const committed = new Map<GroupId, number>();
    const converged = new Set<GroupId>();
    let probes = 0;
    const probe = () => {
      for (const groupId of this.groupIds) {
        const index = committed.get(groupId);
        if (index === undefined) {
          const found = this.confirmed.find(
            (c) => c.groupId === groupId && c.key.startsWith("live"),
          );
          if (found !== undefined) committed.set(groupId, found.index);
          else {
            const leader = this.newestLeader(groupId);
            if (leader !== undefined) this.propose(leader, groupId, `live${probes++}`);
          }
        } else if (this.membersCaughtUp(groupId, index)) {
          converged.add(groupId);
        }
      }
      if (converged.size < this.groupIds.length) this.queue.after(50, probe);
    };
    this.queue.after(0, probe);
    this.queue.runUntil(deadlineMs, () => committed.size === this.groupIds.length);
    for (const groupId of this.groupIds) {
      if (committed.has(groupId)) continue;
      const leader = this.newestLeader(groupId);
      this.checker.fault(
        "liveness",
        groupId,
        (leader === undefined
          ? "no leader elected after the cluster healed"
          : `leader ${leader.id} did not commit a proposal after the cluster healed`) +
          `; ${this.describeGroup(groupId)}`,
      );
    }
    if (this.checker.violations.length > 0) return;
    this.queue.runUntil(deadlineMs + CONVERGENCE_MS, () => converged.size === this.groupIds.length);
    for (const groupId of this.groupIds) {
      if (converged.has(groupId)) continue;
      this.checker.fault(
        "convergence",
        groupId,
        `members did not apply index ${committed.get(groupId)}; ${this.describeGroup(groupId)}`,
      );
    }
  }

  /** One line per node: what it believes about the group. */
  describeGroup(groupId: GroupId): string {
    const lines: string[] = [];
    for (const node of this.nodes.values()) {
      const s = node.machine(groupId)?.status();
      if (s === undefined) continue;
      lines.push(
        `${s.id}: ${s.role} term ${s.term} leader ${s.leaderId} commit ${s.commitIndex} ` +
          `applied ${node.appliedIndex(groupId)} log ${s.firstIndex}..${s.lastIndex}@${s.lastTerm} ` +
          `voters ${s.membership.voters.join(",")} learners ${s.membership.learners.join(",")}`,
      );
    }
    return lines.join("; ");
  }

  private newestLeader(groupId: GroupId): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.leaders(groupId)) {
      const term = node.machine(groupId)!.status().term;
      if (term > bestTerm) {
        best = node;
        bestTerm = term;
      }
    }
    return best;
  }

  private membersCaughtUp(groupId: GroupId, index: number): boolean {
    const leader = this.newestLeader(groupId);
    if (leader === undefined) return false;
    const { voters, learners } = leader.machine(groupId)!.status().membership;
    return [...voters, ...learners].every(
      (id) => (this.nodes.get(id)?.appliedIndex(groupId) ?? 0) >= index,
    );
  }

  /** No confirmed proposal is lost: the committed log holds each at its confirmed index. */
  private checkConfirmedSurvived(): void {
    for (const { groupId, index, key } of this.confirmed) {
      const held = this.checker.committedKeyAt(groupId, index);
      if (held !== key) {
        this.checker.fault("confirmed entry lost", groupId, `${key} at ${index} became ${held}`);
      }
    }
  }

  /** A proposal reported lost was never committed: its index holds another entry. */
  private checkLostNeverCommitted(): void {
    for (const { groupId, index, key } of this.lost) {
      if (this.checker.committedKeyAt(groupId, index) === key) {
        this.checker.fault("lost proposal committed", groupId, `${key} at ${index}`);
      }
    }
  }

  private result(): SimResult {
    let committedEntries = 0;
    for (const groupId of this.groupIds) committedEntries += this.checker.maxCommitted(groupId);
    return {
      seed: this.config.seed,
      nodeCount: this.nodeCount,
      violations: this.checker.violations,
      faults: this.nemesis.total,
      faultCounts: this.nemesis.counts,
      proposals: this.proposals,
      confirmed: this.confirmed.length,
      committedEntries,
      elections: this.checker.elections,
      membershipChanges: this.membershipChanges,
      messages: this.network.sent,
      simulatedMs: this.queue.nowMs,
    };
  }
}

export function runSimulation(config: SimConfig): SimResult {
  return new ClusterSim(config).run();
}
