/**
 * One simulated Warren node: the production RaftDriver (src/cluster/raft-driver.ts) in a
 * simulated environment (sim-environment.ts: disk, network, clock). The node itself only
 * boots, crashes and pauses: a crash drops the driver and its memory and keeps the disk; a
 * pause holds back everything the process would run (sim-environment.ts waits on it).
 * Committed entries go to a hash of everything applied (hash-state-machine.ts).
 */
import type {
  OutcomeCallback,
  RaftDriverConfig,
  ReplicatedStateMachine,
} from "../../src/cluster/index.js";
import { RaftDriver } from "../../src/cluster/index.js";
import type {
  GroupId,
  GroupMessage,
  Membership,
  NodeId,
  RaftMachine,
} from "../../src/raft/index.js";
import type { EventQueue } from "./event-queue.js";
import type { InvariantChecker } from "./invariant-checker.js";
import type { Prng } from "./prng.js";
import { SimDisk } from "./sim-disk.js";
import { SimClock, SimLog, SimTransport } from "./sim-environment.js";
import type { SimNetwork } from "./sim-network.js";

/** Builds a node's driver; a planted bug may return a subclass (test code only). */
export type DriverFactory = (config: RaftDriverConfig) => RaftDriver;

export const CORRECT_DRIVER: DriverFactory = (config) => new RaftDriver(config);

export interface NodeSettings {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxAppendBytes: number;
  readonly maxInflightAppends: number;
  readonly maxUncommittedEntries: number;
  readonly minDiskLatencyMs: number;
  readonly maxDiskLatencyMs: number;
  readonly snapshotEveryEntries: number;
  readonly tornWriteProbability: number;
  /** Time between a batch's fdatasync and its sends: the window for a crash in between. */
  readonly maxSendDelayMs: number;
}

export interface SimWorld {
  readonly queue: EventQueue;
  readonly prng: Prng;
  readonly checker: InvariantChecker;
  readonly network: SimNetwork;
  readonly settings: NodeSettings;
  readonly createDriver: DriverFactory;
  readonly createMachine: NonNullable<RaftDriverConfig["createMachine"]>;
  /**
   * The state machine a node's group applies to (a hash of entries, the real metadata, or a
   * quorum queue); called each time the node starts the group.
   */
  stateMachineFor(
    groupId: GroupId,
    report: (index: number, stateHash: number) => void,
    nodeId: NodeId,
  ): ReplicatedStateMachine<string>;
}

export class SimNode {
  up = true;
  pausedUntilMs = 0;
  readonly disk = new SimDisk();
  private driver: RaftDriver | null = null;
  private transport: SimTransport | null = null;
  /** Bumped on every crash so events scheduled before it are ignored after. */
  private epoch = 0;
  readonly tickMs: number;

  constructor(
    readonly id: NodeId,
    private readonly world: SimWorld,
  ) {
    // Every node's clock runs at its own rate, within ±10%.
    this.tickMs = world.settings.tickMs * world.prng.between(0.9, 1.1);
  }

  /** Creates a group on an empty disk: founding members know the membership, joiners do not. */
  hostGroup(groupId: GroupId, membership: Membership): void {
    this.disk.format(groupId, membership);
    if (this.up) this.startGroup(groupId);
  }

  hosts(groupId: GroupId): boolean {
    return this.disk.groupIds().includes(groupId);
  }

  machine(groupId: GroupId): RaftMachine | undefined {
    return this.driver?.machine(groupId);
  }

  appliedIndex(groupId: GroupId): number {
    return this.driver?.appliedIndex(groupId) ?? 0;
  }

  /** Boots the node from its disk: a new driver, as a restarted process would have. */
  start(): void {
    this.up = true;
    const { settings, checker, prng } = this.world;
    const transport = new SimTransport(this, this.world, this.epoch);
    this.transport = transport;
    this.driver = this.world.createDriver({
      nodeId: this.id,
      log: new SimLog(this, this.world, this.epoch),
      transport,
      ticks: new SimClock(this, this.world, this.epoch),
      raftOptions: {
        electionTicks: settings.electionTicks,
        heartbeatTicks: settings.heartbeatTicks,
        maxAppendBytes: settings.maxAppendBytes,
        maxInflightAppends: settings.maxInflightAppends,
        maxUncommittedEntries: settings.maxUncommittedEntries,
        random: () => prng.next(),
      },
      createMachine: this.world.createMachine,
      observer: {
        changed: (groupId, machine) => checker.observe(groupId, machine),
        persisting: (groupId, machine, ready) => checker.onPersist(groupId, machine, ready.entries),
      },
    });
    for (const groupId of this.disk.groupIds()) {
      checker.onRestart(groupId, this.id);
      this.startGroup(groupId);
    }
    this.driver.start();
  }

  private startGroup(groupId: GroupId): void {
    const report = (index: number, stateHash: number) =>
      this.world.checker.onApplied(groupId, this.id, index, stateHash);
    this.driver!.addGroup(groupId, {
      persisted: this.disk.load(groupId),
      stateMachine: this.world.stateMachineFor(groupId, report, this.id),
      snapshotEveryEntries: this.world.settings.snapshotEveryEntries,
    });
  }

  /** Stops the node: memory is gone, unsynced writes are lost or torn, the disk remains. */
  crash(): string {
    this.up = false;
    this.epoch++;
    this.driver = null;
    this.transport = null;
    const outcome = this.disk.crash(this.world.prng, this.world.settings.tornWriteProbability);
    return `lost ${outcome.lostWrites} unsynced writes${outcome.torn ? ", tore one" : ""}`;
  }

  pause(untilMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs);
  }

  paused(): boolean {
    return this.world.queue.nowMs < this.pausedUntilMs;
  }

  /** False once the incarnation that scheduled something has crashed. */
  alive(epoch: number): boolean {
    return epoch === this.epoch && this.up;
  }

  /**
   * Runs part of the process: never after a crash, and only once a pause is over (a paused
   * process reads its sockets and its disk's answers later; they wait in the kernel).
   */
  whenRunning(epoch: number, run: () => void): void {
    if (!this.alive(epoch)) return;
    if (this.paused()) {
      this.world.queue.at(this.pausedUntilMs, () => this.whenRunning(epoch, run));
      return;
    }
    run();
  }

  /** The network delivers a message to this node. */
  receive(message: GroupMessage): void {
    this.transport?.deliver(message);
  }

  /** A client proposes to this node; undefined if it is down or paused. */
  propose(groupId: GroupId, key: string, onOutcome: OutcomeCallback<string>) {
    if (this.driver === null || this.paused()) return undefined;
    return this.driver.propose(
      groupId,
      new TextEncoder().encode(key),
      onOutcome as OutcomeCallback,
    );
  }

  /** Runs a request against a group through the driver, which carries out what follows. */
  act<T>(groupId: GroupId, request: (driver: RaftDriver) => T): T | undefined {
    if (this.driver === null || this.paused() || this.driver.machine(groupId) === undefined) {
      return undefined;
    }
    return request(this.driver);
  }
}
