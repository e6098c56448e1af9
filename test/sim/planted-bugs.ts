/**
 * Deliberate bugs, planted from test code only, to show the simulator is sharp: each breaks
 * one rule Raft's safety depends on, and the simulator must notice within a bounded number
 * of seeds. The production classes carry no flags for them: a bug is a subclass overriding
 * one decision of RaftMachine, or the order of effects of the RaftDriver.
 */
import type { DriverBatch } from "../../src/cluster/index.js";
import { RaftDriver } from "../../src/cluster/index.js";
import { RaftMachine } from "../../src/raft/index.js";
import type { SimConfig } from "./cluster-sim.js";

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
