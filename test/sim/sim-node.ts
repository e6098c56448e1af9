/**
 * One simulated Warren node: a RaftGroupSet driven the way the real runtime will drive it.
 * Its Readies are written to one shared disk as a batch; after the (simulated) fdatasync the
 * messages go out and committed entries are applied to a toy state machine whose state is a
 * running hash, so two nodes that applied the same entries have the same state.
 */
import type {
  GroupId,
  GroupMessage,
  GroupSetReady,
  LogEntry,
  Membership,
  NodeId,
  RaftMachine,
  RaftOptions,
} from "../../src/raft/index.js";
import { RaftGroupSet, raftOptions } from "../../src/raft/index.js";
import type { PersistedState } from "../../src/raft/types.js";
import { writesOfReady } from "../../src/store/raft-log-image.js";
import type { EventQueue } from "./event-queue.js";
import type { InvariantChecker } from "./invariant-checker.js";
import { entryKey } from "./invariant-checker.js";
import type { Prng } from "./prng.js";
import { SimDisk } from "./sim-disk.js";
import type { SimNetwork } from "./sim-network.js";

export type MachineFactory = (options: RaftOptions, persisted: PersistedState) => RaftMachine;

/**
 * How the node carries out a Ready. The correct driver persists before it sends; a planted
 * bug may send first (defined only in tests, never in src/).
 */
export interface DriverPolicy {
  readonly sendBeforePersist: boolean;
}

export const CORRECT_DRIVER: DriverPolicy = { sendBeforePersist: false };

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
  readonly driver: DriverPolicy;
  createMachine: MachineFactory;
  onApplied(node: SimNode, groupId: GroupId, entry: LogEntry): void;
  trace(line: string): void;
}

/** The toy replicated state machine: how many entries were applied and a hash of them all. */
class HashStateMachine {
  appliedIndex = 0;
  stateHash = 0;

  apply(entry: LogEntry): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`applied ${entry.index} after ${this.appliedIndex}`);
    }
    this.appliedIndex = entry.index;
    this.stateHash = mix(mix(this.stateHash, entry.term), hashString(entryKey(entry)));
  }

  encode(): Uint8Array {
    return new TextEncoder().encode(`${this.appliedIndex}:${this.stateHash}`);
  }

  restore(index: number, data: Uint8Array): void {
    if (data.byteLength === 0) {
      this.appliedIndex = index;
      this.stateHash = 0;
      return;
    }
    const [applied, hash] = new TextDecoder().decode(data).split(":").map(Number);
    this.appliedIndex = applied;
    this.stateHash = hash;
  }
}

export class SimNode {
  up = true;
  pausedUntilMs = 0;
  readonly disk = new SimDisk();
  groups = new RaftGroupSet();
  private apps = new Map<GroupId, HashStateMachine>();
  /** Bumped on every crash so events scheduled before it are ignored after. */
  private epoch = 0;
  private busy = false;
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
    return this.up ? this.groups.get(groupId) : undefined;
  }

  appliedIndex(groupId: GroupId): number {
    return this.apps.get(groupId)?.appliedIndex ?? 0;
  }

  /** Boots the node from its disk and starts its clock. */
  start(): void {
    this.up = true;
    this.busy = false;
    this.groups = new RaftGroupSet();
    this.apps = new Map();
    for (const groupId of this.disk.groupIds()) {
      this.world.checker.onRestart(groupId, this.id);
      this.startGroup(groupId);
    }
    this.scheduleTick(this.epoch);
  }

  private startGroup(groupId: GroupId): void {
    const persisted = this.disk.load(groupId);
    const { settings, prng } = this.world;
    const options = raftOptions({
      id: this.id,
      electionTicks: settings.electionTicks,
      heartbeatTicks: settings.heartbeatTicks,
      maxAppendBytes: settings.maxAppendBytes,
      maxInflightAppends: settings.maxInflightAppends,
      maxUncommittedEntries: settings.maxUncommittedEntries,
      random: () => prng.next(),
    });
    const machine = this.world.createMachine(options, persisted);
    const app = new HashStateMachine();
    app.restore(persisted.snapshot.meta.index, persisted.snapshot.data);
    this.apps.set(groupId, app);
    this.groups.add(groupId, machine);
    this.observe(groupId);
  }

  /** Stops the node: memory is gone, unsynced writes are lost or torn, the disk remains. */
  crash(): string {
    this.up = false;
    this.epoch++;
    const outcome = this.disk.crash(this.world.prng, this.world.settings.tornWriteProbability);
    return `lost ${outcome.lostWrites} unsynced writes${outcome.torn ? ", tore one" : ""}`;
  }

  pause(untilMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs);
  }

  private paused(): boolean {
    return this.world.queue.nowMs < this.pausedUntilMs;
  }

  private scheduleTick(epoch: number): void {
    this.world.queue.after(this.tickMs, () => {
      if (epoch !== this.epoch || !this.up) return;
      if (!this.paused()) {
        for (const groupId of this.groups.groupIds()) {
          this.groups.get(groupId)!.tick();
          this.observe(groupId);
        }
        this.pump();
      }
      this.scheduleTick(epoch);
    });
  }

  receive(message: GroupMessage): void {
    if (!this.up) return;
    if (this.paused()) {
      // A paused process reads its socket later; the message waits in the kernel.
      const epoch = this.epoch;
      this.world.queue.at(this.pausedUntilMs, () => {
        if (epoch === this.epoch) this.receive(message);
      });
      return;
    }
    if (!this.groups.step(message)) return;
    this.observe(message.groupId);
    this.pump();
  }

  propose(groupId: GroupId, key: string) {
    const machine = this.machine(groupId);
    if (machine === undefined || this.paused()) return undefined;
    const result = machine.propose(new TextEncoder().encode(key));
    this.observe(groupId);
    this.pump();
    return result;
  }

  /** Runs a request against a group's machine and carries out what follows. */
  act<T>(groupId: GroupId, request: (machine: RaftMachine) => T): T | undefined {
    const machine = this.machine(groupId);
    if (machine === undefined || this.paused()) return undefined;
    const result = request(machine);
    this.observe(groupId);
    this.pump();
    return result;
  }

  private observe(groupId: GroupId): void {
    const machine = this.groups.get(groupId);
    if (machine !== undefined) this.world.checker.observe(groupId, machine);
  }

  /** Takes the next batch of Readies, if no batch is being written. */
  private pump(): void {
    if (!this.up || this.busy || this.paused() || !this.groups.hasReady()) return;
    const batch = this.groups.ready();
    for (const { groupId, ready } of batch.groups) {
      this.world.checker.onPersist(groupId, this.groups.get(groupId)!, ready.entries);
      this.disk.write(groupId, writesOfReady(ready));
    }
    this.busy = true;
    if (this.world.driver.sendBeforePersist) this.send(batch);
    const epoch = this.epoch;
    const { minDiskLatencyMs, maxDiskLatencyMs } = this.world.settings;
    const latencyMs = batch.mustSync
      ? this.world.prng.between(minDiskLatencyMs, maxDiskLatencyMs)
      : 0;
    this.world.queue.after(latencyMs, () => {
      if (epoch !== this.epoch) return;
      // Like persistBatch: writes that need no fdatasync stay volatile until a later one.
      if (batch.mustSync) this.disk.sync();
      // A crash may still land between the fdatasync and the sends.
      this.world.queue.after(this.world.prng.between(0, this.world.settings.maxSendDelayMs), () => {
        if (epoch !== this.epoch) return;
        this.finish(batch);
      });
    });
  }

  private send(batch: GroupSetReady): void {
    for (const [to, messages] of batch.outbound) {
      for (const message of messages) this.world.network.send(this.id, to, message);
    }
  }

  private finish(batch: GroupSetReady): void {
    if (!this.world.driver.sendBeforePersist) this.send(batch);
    for (const { groupId, ready } of batch.groups) {
      const app = this.apps.get(groupId);
      if (app === undefined) continue;
      if (ready.snapshot !== null) {
        app.restore(ready.snapshot.meta.index, ready.snapshot.data);
        this.world.checker.onApplied(groupId, this.id, app.appliedIndex, app.stateHash);
      }
      for (const entry of ready.committed) {
        app.apply(entry);
        this.world.checker.onApplied(groupId, this.id, entry.index, app.stateHash);
        this.world.onApplied(this, groupId, entry);
      }
    }
    this.groups.advance(batch);
    for (const { groupId } of batch.groups) {
      this.observe(groupId);
      this.maybeCompact(groupId);
    }
    this.busy = false;
    this.pump();
  }

  private maybeCompact(groupId: GroupId): void {
    const machine = this.groups.get(groupId);
    const app = this.apps.get(groupId);
    if (machine === undefined || app === undefined) return;
    const { snapshotIndex } = machine.status();
    if (app.appliedIndex - snapshotIndex >= this.world.settings.snapshotEveryEntries) {
      machine.compact(app.appliedIndex, app.encode());
    }
  }
}

function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193) >>> 0;
}

function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = mix(hash, text.charCodeAt(i));
  return hash;
}
