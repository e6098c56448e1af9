/**
 * Deliberate bugs, planted from test code only, to show the simulator is sharp: each breaks
 * one rule Raft's safety depends on, and the simulator must notice within a bounded number
 * of seeds. The production classes carry no flags for them: a bug is a subclass overriding
 * one decision of RaftMachine, or the order of effects of the RaftDriver.
 */
import type { DriverBatch } from "../../src/cluster/index.js";
import { RaftDriver } from "../../src/cluster/index.js";
import type { Ready } from "../../src/raft/index.js";
import { RaftMachine } from "../../src/raft/index.js";
import type { SimConfig } from "./cluster-sim.js";
import type { QuorumSimConfig } from "./quorum-queue-sim.js";

/** Raft §5.4.1 broken: votes for any candidate, however stale its log. */
class VotesWithoutLogCheck extends RaftMachine {
  protected override candidateLogIsUpToDate(): boolean {
    return true;
  }
}

/** Raft §5.4.2 broken: commits an earlier term's entry as soon as a majority holds it. */
class CommitsOldTermByCounting extends RaftMachine {
  protected override canCommitByCounting(): boolean {
    return true;
  }
}

/**
 * Apply only what is committed (§5.3), broken: entries are applied as soon as they are durable
 * on this node, as if its own disk made them committed. A leader that loses its term leaves
 * followers that applied entries the next leader overwrites.
 */
class AppliesBeforeCommit extends RaftMachine {
  override hasReady(): boolean {
    return this.withLocalCommit(() => super.hasReady());
  }

  override ready(): Ready {
    const ready = this.withLocalCommit(() => super.ready());
    // Only the applying is wrong: the commit index it persists is the true one.
    return ready.hardState === null
      ? ready
      : { ...ready, hardState: { ...ready.hardState, commitIndex: this.commitIndex } };
  }

  private withLocalCommit<T>(run: () => T): T {
    const committed = this.commitIndex;
    this.commitIndex = Math.max(committed, this.log.stableIndex());
    try {
      return run();
    } finally {
      this.commitIndex = committed;
    }
  }
}

/** Persist before you send, broken: votes and acknowledgements leave before the fdatasync. */
class SendsBeforePersisting extends RaftDriver {
  protected override carryOut(batch: DriverBatch): void {
    this.write(batch);
    this.send(batch);
    this.whenDurable(batch, () => this.finish(batch));
  }
}

export interface PlantedBug {
  readonly name: string;
  readonly rule: string;
  readonly config: Omit<SimConfig, "seed">;
}

export const PLANTED_BUGS: readonly PlantedBug[] = [
  {
    name: "vote-without-log-check",
    rule: "§5.4.1 election restriction",
    config: { createMachine: (options, persisted) => new VotesWithoutLogCheck(options, persisted) },
  },
  {
    name: "commit-old-term-by-counting",
    rule: "§5.4.2 commit only current-term entries by counting",
    config: {
      createMachine: (options, persisted) => new CommitsOldTermByCounting(options, persisted),
    },
  },
  {
    name: "apply-before-commit",
    rule: "§5.3 apply only committed entries",
    config: {
      metadata: true,
      createMachine: (options, persisted) => new AppliesBeforeCommit(options, persisted),
    },
  },
  {
    name: "send-before-persist",
    rule: "persist before answering (votes and acknowledgements)",
    config: { createDriver: (config) => new SendsBeforePersisting(config) },
  },
];

export function plantedBug(name: string): PlantedBug {
  const bug = PLANTED_BUGS.find((candidate) => candidate.name === name);
  if (bug === undefined) {
    throw new Error(`unknown planted bug ${name}: ${PLANTED_BUGS.map((b) => b.name).join(", ")}`);
  }
  return bug;
}

/**
 * A deliberate bug in the quorum queue's publisher confirms (quorum-queue-sim.ts): the
 * publisher is confirmed as soon as the leader accepts its proposal, before a majority has
 * it, and forgets it. A leader that crashes or is deposed before committing loses it.
 */
export interface QuorumPlantedBug {
  readonly name: string;
  readonly rule: string;
  readonly config: Omit<QuorumSimConfig, "seed">;
}

export const QUORUM_PLANTED_BUGS: readonly QuorumPlantedBug[] = [
  {
    name: "confirm-before-commit",
    rule: "confirm a publish only once its enqueue is committed and applied",
    config: { confirmOnAccept: true },
  },
];

export function quorumPlantedBug(name: string): QuorumPlantedBug {
  const bug = QUORUM_PLANTED_BUGS.find((candidate) => candidate.name === name);
  if (bug === undefined) {
    throw new Error(
      `unknown quorum planted bug ${name}: ${QUORUM_PLANTED_BUGS.map((b) => b.name).join(", ")}`,
    );
  }
  return bug;
}
