/**
 * What a Raft log store holds for one group, and the rules for changing it, in memory and
 * with no I/O. Every store (memory, file, the simulator's disk) applies writes through this
 * one class, so "append at index i drops what was stored from i on" and "installing a
 * snapshot discards the log" mean exactly the same thing everywhere, including recovery.
 */
import type { Ready } from "../raft/ready.js";
import type { HardState, LogEntry, PersistedState, Snapshot } from "../raft/types.js";
import { initialPersistedState } from "../raft/types.js";

/** One change to a group's stored log; a Ready becomes up to four of these, in this order. */
export type RaftLogWrite =
  | { readonly type: "install"; readonly snapshot: Snapshot }
  | { readonly type: "compact"; readonly snapshot: Snapshot }
  | { readonly type: "entries"; readonly entries: readonly LogEntry[] }
  | { readonly type: "hardState"; readonly hardState: HardState };

/** The writes a Ready asks for, in the order ready.ts prescribes. */
export function writesOfReady(ready: Ready): RaftLogWrite[] {
  const writes: RaftLogWrite[] = [];
  if (ready.snapshot !== null) writes.push({ type: "install", snapshot: ready.snapshot });
  if (ready.compaction !== null) writes.push({ type: "compact", snapshot: ready.compaction });
  if (ready.entries.length > 0) writes.push({ type: "entries", entries: ready.entries });
  if (ready.hardState !== null) writes.push({ type: "hardState", hardState: ready.hardState });
  return writes;
}

export class RaftLogImage {
  private hardState: HardState;
  private snapshot: Snapshot;
  private entries: LogEntry[];

  constructor(initial: PersistedState = initialPersistedState()) {
    this.hardState = initial.hardState;
    this.snapshot = initial.snapshot;
    this.entries = [...initial.entries];
  }

  apply(write: RaftLogWrite): void {
    switch (write.type) {
      case "install":
        this.install(write.snapshot);
        break;
      case "compact":
        this.compact(write.snapshot);
        break;
      case "entries":
        this.append(write.entries);
        break;
      case "hardState":
        this.hardState = write.hardState;
        break;
    }
  }

  /** Raft §7: a snapshot from the leader replaces the whole log. */
  private install(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    this.entries = [];
  }

  /** A local snapshot: drop the entries it covers, keep the rest. */
  private compact(snapshot: Snapshot): void {
    const base = this.snapshot.meta.index;
    if (snapshot.meta.index <= base) return;
    this.entries = this.entries.slice(Math.min(snapshot.meta.index - base, this.entries.length));
    this.snapshot = snapshot;
  }

  /** Appends entries, dropping stored ones from the first new index on. */
  private append(entries: readonly LogEntry[]): void {
    const base = this.snapshot.meta.index;
    const fresh = entries.filter((entry) => entry.index > base);
    if (fresh.length === 0) return;
    const first = fresh[0].index;
    const last = base + this.entries.length;
    if (first > last + 1) throw new Error(`append at ${first} leaves a gap after ${last}`);
    this.entries.length = first - base - 1;
    for (const entry of fresh) this.entries.push(entry);
  }

  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  currentHardState(): HardState {
    return this.hardState;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  persistedState(): PersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}
