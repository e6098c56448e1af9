/**
 * The Raft driver: the one loop that carries a node's Raft groups (a RaftGroupSet) through
 * their Readies, used by the simulator for every simulated node and by the runtime for the
 * real one, so the loop that CI checks with a thousand seeds is the loop that runs.
 *
 * Inputs come in through the driver (ticks from a TickSource, messages from a PeerTransport,
 * proposals from callers); after each, the driver takes the next batch, unless one is being
 * carried out, and carries it out in the order ready.ts prescribes (docs/RAFT.md, "Outputs"):
 *
 *   1. write     every group's snapshot, compaction, entries and hard state to the log;
 *   2. sync      if any group needs it, one sync for all (one fdatasync: group commit);
 *   3. send      the messages, one transport send per peer;
 *   4. apply     restore installed snapshots, apply committed entries to each group's state
 *                machine, and settle the proposals whose index was applied;
 *   5. advance   tell every machine its Ready is done; snapshot groups that applied enough;
 *                then call the proposers back and take the next batch.
 *
 * Only one batch is out at a time; inputs that arrive meanwhile are stepped into the machines
 * and picked up by the next batch. Nothing here reads a clock, sets a timer or touches a
 * socket or a file: time and I/O come through the three interfaces.
 */
import type {
  GroupId,
  GroupMessage,
  GroupSetReady,
  MembershipChange,
  NodeId,
  PersistedState,
  ProposeResult,
  RaftOptions,
  Ready,
} from "../raft/index.js";
import { RaftGroupSet, RaftMachine, raftOptions } from "../raft/index.js";
import { writesOfReady } from "../store/raft-log-image.js";
import type { GroupSpec } from "./driven-group.js";
import { DrivenGroup } from "./driven-group.js";
import type { PeerTransport } from "./peer-transport.js";
import type { OutcomeCallback, ProposalReceipt, ProposalRefusal } from "./proposal-outcome.js";
import type { Settlement } from "./proposal-tracker.js";
import { RaftGroupHandle } from "./raft-group-handle.js";
import type { RaftLogWriter } from "./raft-log-writer.js";
import type { TickSource } from "./tick-source.js";

/** Builds a group's machine from its options and recovered state; tests plant bugs here. */
export type MachineFactory = (options: RaftOptions, persisted: PersistedState) => RaftMachine;

/** Watches the driver work, for the simulator's invariant checks and for metrics. */
export interface RaftDriverObserver {
  /** A group's machine took an input or finished a batch: its role, term or commit may move. */
  changed?(groupId: GroupId, machine: RaftMachine): void;
  /** A group's part of a batch is about to be written (nothing of it durable or sent yet). */
  persisting?(groupId: GroupId, machine: RaftMachine, ready: Ready): void;
  /** The log could not sync: the driver stopped, and nothing of that batch was sent. */
  logFailed?(error: Error): void;
}

export interface RaftDriverConfig {
  readonly nodeId: NodeId;
  readonly log: RaftLogWriter;
  readonly transport: PeerTransport;
  readonly ticks: TickSource;
  /**
   * Tunables for every group's machine (the node id is added). The random source for
   * election timeouts is required: the runtime passes Math.random, the simulator its seed.
   */
  readonly raftOptions: Partial<Omit<RaftOptions, "id">> & Pick<RaftOptions, "random">;
  readonly createMachine?: MachineFactory;
  readonly observer?: RaftDriverObserver;
  /**
   * A message arrived for a group this node does not drive: the runtime may add the group
   * now (a quorum queue's new member learns its group from the leader's first message) and
   * answer true, and the message is stepped; otherwise it is dropped.
   */
  readonly unknownGroup?: (groupId: GroupId, from: NodeId) => boolean;
}

export interface RaftDriverStats {
  readonly batches: number;
  readonly syncs: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Messages for groups this node does not host (removed, or not created yet): dropped. */
  readonly messagesForUnknownGroups: number;
}

/** One batch as the driver carries it out: every group's Ready, and which group it is for. */
export interface DriverBatch {
  readonly batch: GroupSetReady;
  readonly parts: readonly { readonly group: DrivenGroup; readonly ready: Ready }[];
}

type DriverState = "running" | "stopped" | "failed";

export class RaftDriver {
  readonly nodeId: NodeId;
  private readonly groups = new RaftGroupSet();
  private readonly driven = new Map<GroupId, DrivenGroup>();
  private state: DriverState = "running";
  private failure: Error | null = null;
  /** A batch is out: written, maybe waiting for its sync. */
  private busy = false;
  /** pump() is on the stack: a batch finished synchronously must not start another pump. */
  private pumping = false;
  private ticking = false;
  private readonly counters = {
    batches: 0,
    syncs: 0,
    messagesSent: 0,
    messagesReceived: 0,
    messagesForUnknownGroups: 0,
  };

  constructor(private readonly config: RaftDriverConfig) {
    this.nodeId = config.nodeId;
    config.transport.onReceive((messages) => this.receive(messages));
  }

  // ---------------------------------------------------------------- life cycle

  /** Starts the clock: elections and heartbeats begin. */
  start(): void {
    if (this.state !== "running" || this.ticking) return;
    this.ticking = true;
    this.config.ticks.start(() => this.tick());
  }

  /**
   * Stops driving: no more ticks, sends or applies. Proposals still waiting are told
   * "unknown" (the others may still commit them). A sync in flight completes unanswered.
   */
  stop(): void {
    if (this.state !== "running") return;
    this.halt("stopped");
  }

  /** Why the driver stopped on its own: the log failed (null while it runs). */
  failed(): Error | null {
    return this.failure;
  }

  // ---------------------------------------------------------------- groups

  /** Starts driving a group from what its log store holds. */
  addGroup<R>(groupId: GroupId, spec: GroupSpec<R>): RaftGroupHandle<R> {
    if (this.driven.has(groupId)) throw new Error(`group ${groupId} is already driven`);
    const options = raftOptions({
      ...this.config.raftOptions,
      ...spec.raftOptions,
      id: this.nodeId,
    });
    const create = this.config.createMachine ?? ((o, p) => new RaftMachine(o, p));
    const machine = create(options, spec.persisted);
    const group = new DrivenGroup(groupId, machine, spec as GroupSpec);
    this.groups.add(groupId, machine);
    this.driven.set(groupId, group);
    this.changed(groupId, machine);
    return new RaftGroupHandle<R>(this, groupId);
  }

  /**
   * Stops driving a group (its log is the caller's to drop). Its waiting proposals are told
   * "unknown": the remaining members may still commit them.
   */
  removeGroup(groupId: GroupId): boolean {
    const group = this.driven.get(groupId);
    if (group === undefined) return false;
    group.removed = true;
    this.driven.delete(groupId);
    this.groups.remove(groupId);
    const settled: Settlement[] = [];
    group.proposals.abandon("groupRemoved", settled);
    notify(settled);
    return true;
  }

  group<R>(groupId: GroupId): RaftGroupHandle<R> | undefined {
    return this.driven.has(groupId) ? new RaftGroupHandle<R>(this, groupId) : undefined;
  }

  groupIds(): GroupId[] {
    return [...this.driven.keys()];
  }

  /** A group's machine, to read its status and log; inputs go through the driver. */
  machine(groupId: GroupId): RaftMachine | undefined {
    return this.driven.get(groupId)?.machine;
  }

  /** Entries applied to a group's state machine on this node. */
  appliedIndex(groupId: GroupId): number | undefined {
    return this.driven.get(groupId)?.applied();
  }

  stats(): RaftDriverStats {
    return { ...this.counters };
  }

  // ---------------------------------------------------------------- inputs

  /** One tick of logical time for every group (the TickSource calls it). */
  tick(): void {
    if (this.state !== "running") return;
    for (const [groupId, group] of this.driven) {
      group.machine.tick();
      this.changed(groupId, group.machine);
    }
    this.pump();
  }

  /** Messages from peers (the PeerTransport calls it). */
  receive(messages: readonly GroupMessage[]): void {
    if (this.state !== "running") return;
    for (const groupMessage of messages) {
      this.counters.messagesReceived++;
      const known =
        this.groups.step(groupMessage) ||
        (this.config.unknownGroup?.(groupMessage.groupId, groupMessage.message.from) === true &&
          this.groups.step(groupMessage));
      if (known) {
        this.changed(groupMessage.groupId, this.groups.get(groupMessage.groupId)!);
      } else {
        this.counters.messagesForUnknownGroups++;
      }
    }
    this.pump();
  }

  /**
   * Proposes a command to a group. onOutcome is called exactly once: at once (before this
   * returns) if the proposal is refused, else once its index is applied on this node or its
   * fate cannot be learned here (ProposalOutcome).
   */
  propose(groupId: GroupId, command: Uint8Array, onOutcome: OutcomeCallback): ProposalReceipt {
    return this.request(groupId, onOutcome, (machine) => machine.propose(command));
  }

  /** Proposes a membership change (one at a time, dissertation §4.1); tracked like a command. */
  changeMembership(
    groupId: GroupId,
    change: MembershipChange,
    onOutcome: OutcomeCallback = () => {},
  ): ProposalReceipt {
    return this.request(groupId, onOutcome, (machine) => machine.proposeMembershipChange(change));
  }

  /** Hands the group's leadership to a voter once its log is complete (dissertation §3.10). */
  transferLeadership(groupId: GroupId, target: NodeId): ProposalReceipt {
    const refusal = this.unavailable(groupId);
    if (refusal !== null) return refusalResult(refusal);
    const group = this.driven.get(groupId)!;
    const result = group.machine.transferLeadership(target);
    this.afterInput(groupId, group.machine);
    return result;
  }

  private request(
    groupId: GroupId,
    onOutcome: OutcomeCallback,
    ask: (machine: RaftMachine) => ProposeResult,
  ): ProposalReceipt {
    const refusal = this.unavailable(groupId);
    if (refusal !== null) {
      const result = refusalResult(refusal);
      onOutcome({ status: "refused", reason: refusal, leaderId: null, detail: result.detail });
      return result;
    }
    const group = this.driven.get(groupId)!;
    const result = ask(group.machine);
    if (result.ok) group.proposals.add(result.index, result.term, onOutcome);
    this.afterInput(groupId, group.machine);
    if (!result.ok) {
      const { reason, leaderId, detail } = result;
      onOutcome({ status: "refused", reason, leaderId, detail });
    }
    return result;
  }

  private unavailable(groupId: GroupId): ProposalRefusal | null {
    if (this.state === "failed") return "logFailed";
    if (this.state === "stopped") return "stopped";
    return this.driven.has(groupId) ? null : "noSuchGroup";
  }

  private afterInput(groupId: GroupId, machine: RaftMachine): void {
    this.changed(groupId, machine);
    this.pump();
  }

  private changed(groupId: GroupId, machine: RaftMachine): void {
    this.config.observer?.changed?.(groupId, machine);
  }

  // ---------------------------------------------------------------- the loop

  /** Takes batches while there is work and none is out. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && this.state === "running" && this.groups.hasReady()) {
        this.busy = true;
        this.counters.batches++;
        this.carryOut(this.take());
      }
    } finally {
      this.pumping = false;
    }
  }

  private take(): DriverBatch {
    const batch = this.groups.ready();
    const parts = batch.groups.map(({ groupId, ready }) => ({
      group: this.driven.get(groupId)!,
      ready,
    }));
    return { batch, parts };
  }

  /**
   * The order of effects (ready.ts): persist, then send, then apply. Protected so that a test
   * can plant the classic bug of sending first (test/sim/planted-bugs.ts); nothing in src/
   * overrides it.
   */
  protected carryOut(batch: DriverBatch): void {
    this.write(batch);
    this.whenDurable(batch, () => {
      this.send(batch);
      this.finish(batch);
    });
  }

  /** Stages every group's writes in the log, in the order ready.ts gives. */
  protected write({ parts }: DriverBatch): void {
    for (const { group, ready } of parts) {
      this.config.observer?.persisting?.(group.groupId, group.machine, ready);
      const writes = writesOfReady(ready);
      if (writes.length > 0) this.config.log.write(group.groupId, writes);
    }
  }

  /**
   * Runs then once the batch is durable: after one sync for every group when any group needs
   * it, else at once (a commit index alone rides along with the next sync; losing it in a
   * crash is harmless, it is learned again from the leader).
   */
  protected whenDurable({ batch }: DriverBatch, then: () => void): void {
    if (!batch.mustSync) {
      then();
      return;
    }
    this.counters.syncs++;
    this.config.log.sync((error) => {
      if (this.state !== "running") return;
      if (error !== null) this.fail(error);
      else then();
    });
  }

  protected send({ batch }: DriverBatch): void {
    for (const [to, messages] of batch.outbound) {
      this.counters.messagesSent += messages.length;
      this.config.transport.send(to, messages);
    }
  }

  /** Applies, advances, compacts, then tells the proposers and takes the next batch. */
  protected finish({ parts }: DriverBatch): void {
    if (this.state !== "running") return;
    const settled: Settlement[] = [];
    for (const { group, ready } of parts) if (!group.removed) group.apply(ready, settled);
    for (const { group, ready } of parts) if (!group.removed) group.machine.advance(ready);
    for (const { group } of parts) {
      if (group.removed) continue;
      this.changed(group.groupId, group.machine);
      group.maybeCompact();
    }
    this.busy = false;
    notify(settled);
    this.pump();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.halt("failed");
    this.config.observer?.logFailed?.(error);
  }

  private halt(state: "stopped" | "failed"): void {
    this.state = state;
    if (this.ticking) this.config.ticks.stop();
    this.ticking = false;
    const settled: Settlement[] = [];
    const reason = state === "failed" ? "logFailed" : "stopped";
    for (const group of this.driven.values()) group.proposals.abandon(reason, settled);
    notify(settled);
  }
}

function notify(settled: readonly Settlement[]): void {
  for (const { onOutcome, outcome } of settled) onOutcome(outcome);
}

function refusalResult(reason: ProposalRefusal): ProposalReceipt & { ok: false } {
  const detail =
    reason === "noSuchGroup"
      ? "this node does not host the group"
      : reason === "logFailed"
        ? "the Raft log failed; the driver stopped"
        : "the Raft driver is stopped";
  return { ok: false, reason, leaderId: null, detail };
}
