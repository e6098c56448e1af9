/**
 * One replica of the simulated quorum queue: the production QuorumStateMachine (and through
 * it the production QuorumMachine) as a simulated node's Raft group applies it. Around it,
 * what the simulator watches: after every fourth applied index (and every restored snapshot)
 * the hash of the machine's snapshot bytes goes to the invariant checker, so State Machine
 * Safety compares whole queue states; the first replica to apply an index tells the ledger what was
 * applied and what it answered; and effects go to the simulation, which carries them out only
 * where the replica's node leads the group.
 */
import type { ReplicatedStateMachine } from "../../src/cluster/index.js";
import { type QuorumApplyResult, QuorumMachine } from "../../src/quorum/quorum-machine.js";
import { QuorumStateMachine } from "../../src/quorum/quorum-state-machine.js";
import type { LogEntry, NodeId, Snapshot } from "../../src/raft/index.js";
import { mix } from "./hash-state-machine.js";

/**
 * Every this many indexes the replica reports its state's hash (encoding the machine after
 * every entry costs a third of a run); a restored snapshot is always reported.
 */
const HASH_EVERY = 4;

export interface ReplicaWorld {
  /** The replica of nodeId applied index with these effects (not reported when empty). */
  applied(nodeId: NodeId, result: QuorumApplyResult, index: number): void;
  /** Every applied entry, in order, for the ledger (it keeps only the first of each index). */
  committed(entry: LogEntry, result: QuorumApplyResult): void;
}

/** FNV-1a over the bytes: the snapshot's identity for State Machine Safety. */
export function hashBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = mix(hash, bytes[i]!);
  return hash;
}

export class QuorumReplica implements ReplicatedStateMachine<QuorumApplyResult> {
  readonly inner: QuorumStateMachine;
  appliedIndex = 0;

  constructor(
    readonly nodeId: NodeId,
    private readonly world: ReplicaWorld,
    private readonly report: (index: number, stateHash: number) => void,
  ) {
    this.inner = new QuorumStateMachine(new QuorumMachine(), {
      applied: (result, index) => world.applied(nodeId, result, index),
    });
  }

  get machine(): QuorumMachine {
    return this.inner.machine;
  }

  apply(entry: LogEntry): QuorumApplyResult {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`${this.nodeId} applied ${entry.index} after ${this.appliedIndex}`);
    }
    const result = this.inner.apply(entry);
    this.appliedIndex = entry.index;
    this.world.committed(entry, result);
    if (entry.index % HASH_EVERY === 0) this.report(entry.index, this.stateHash());
    return result;
  }

  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }

  restore(snapshot: Snapshot): void {
    this.inner.restore(snapshot);
    this.appliedIndex = snapshot.meta.index;
    this.report(this.appliedIndex, this.stateHash());
  }

  /** The state's identity: its snapshot bytes, hashed. */
  stateHash(): number {
    return hashBytes(this.inner.snapshot());
  }
}
