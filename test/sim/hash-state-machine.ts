/**
 * The simulator's replicated state machine: the applied index and a running hash of every
 * entry applied, so two nodes that applied the same entries have the same state, and the
 * invariant checker can compare them after every index (State Machine Safety).
 */
import type { ReplicatedStateMachine } from "../../src/cluster/index.js";
import type { LogEntry, Snapshot } from "../../src/raft/index.js";
import { entryKey } from "./invariant-checker.js";

/** The toy replicated state machine: the applied index and a hash of every entry applied. */
export class HashStateMachine implements ReplicatedStateMachine<string> {
  appliedIndex = 0;
  stateHash = 0;

  /** report: the state reached after an index, for State Machine Safety. */
  constructor(private readonly report: (index: number, stateHash: number) => void) {}

  apply(entry: LogEntry): string {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`applied ${entry.index} after ${this.appliedIndex}`);
    }
    this.appliedIndex = entry.index;
    const key = entryKey(entry);
    this.stateHash = mix(mix(this.stateHash, entry.term), hashString(key));
    this.report(this.appliedIndex, this.stateHash);
    return key;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(`${this.appliedIndex}:${this.stateHash}`);
  }

  restore(snapshot: Snapshot): void {
    if (snapshot.data.byteLength === 0) {
      this.appliedIndex = snapshot.meta.index;
      this.stateHash = 0;
    } else {
      const [applied, hash] = new TextDecoder().decode(snapshot.data).split(":").map(Number);
      this.appliedIndex = applied;
      this.stateHash = hash;
    }
    this.report(this.appliedIndex, this.stateHash);
  }
}

export function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193) >>> 0;
}

export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = mix(hash, text.charCodeAt(i));
  return hash;
}
