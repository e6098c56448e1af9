/**
 * One Raft group as the driver drives it: its machine, the application state machine its
 * committed entries go to, the proposals waiting for their outcome, and when to snapshot.
 */
import type { GroupId, PersistedState, RaftMachine, RaftOptions, Ready } from "../raft/index.js";
import type { Settlement } from "./proposal-tracker.js";
import { ProposalTracker } from "./proposal-tracker.js";
import type { ReplicatedStateMachine } from "./replicated-state-machine.js";

/** ra's default snapshot interval: the log is compacted every 4,096 applied entries. */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 4096;

/** What a node needs to drive one group. */
export interface GroupSpec<R = unknown> {
  /** What the log store holds for the group (RaftLogStore.load, or a new group's state). */
  readonly persisted: PersistedState;
  readonly stateMachine: ReplicatedStateMachine<R>;
  /** Snapshot the state machine and compact the log after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  /** This group's own tunables over the driver's (a quorum queue's slower heartbeat). */
  readonly raftOptions?: Partial<Pick<RaftOptions, "heartbeatTicks" | "electionTicks">>;
}

export class DrivenGroup {
  readonly proposals = new ProposalTracker();
  /** Set when the group is removed while a batch that holds its Ready is in flight. */
  removed = false;
  private appliedIndex: number;
  private readonly stateMachine: ReplicatedStateMachine;
  private readonly snapshotEveryEntries: number;

  constructor(
    readonly groupId: GroupId,
    readonly machine: RaftMachine,
    spec: GroupSpec,
  ) {
    this.stateMachine = spec.stateMachine;
    this.snapshotEveryEntries = spec.snapshotEveryEntries ?? DEFAULT_SNAPSHOT_EVERY_ENTRIES;
    // docs/RAFT.md: restore the state machine from the stored snapshot before driving.
    this.stateMachine.restore(spec.persisted.snapshot);
    this.appliedIndex = spec.persisted.snapshot.meta.index;
  }

  /** ready.ts steps 7 and 8: restore an installed snapshot, then apply committed entries. */
  apply(ready: Ready, out: Settlement[]): void {
    if (ready.snapshot !== null) {
      this.stateMachine.restore(ready.snapshot);
      this.appliedIndex = ready.snapshot.meta.index;
      this.proposals.snapshotInstalled(this.appliedIndex, out);
    }
    for (const entry of ready.committed) {
      if (entry.index !== this.appliedIndex + 1) {
        throw new Error(
          `group ${this.groupId}: entry ${entry.index} handed out for applying after ${this.appliedIndex}`,
        );
      }
      const result = this.stateMachine.apply(entry);
      this.appliedIndex = entry.index;
      this.proposals.applied(entry, result, out);
    }
  }

  /** Raft §7: once enough was applied since the last snapshot, snapshot and compact. */
  maybeCompact(): void {
    const { snapshotIndex } = this.machine.status();
    const since = this.appliedIndex - snapshotIndex;
    const due = this.stateMachine.snapshotDue
      ? this.stateMachine.snapshotDue(since)
      : since >= this.snapshotEveryEntries;
    if (!due) return;
    this.machine.compact(this.appliedIndex, this.stateMachine.snapshot());
  }

  applied(): number {
    return this.appliedIndex;
  }
}
