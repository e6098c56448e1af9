/**
 * The safety properties of Raft (paper Figure 3), checked continuously while a simulation
 * runs. Each group keeps a ledger of everything any node ever appended, committed or applied;
 * a property fails the moment two observations contradict each other.
 *
 *   Election Safety      at most one leader per term;
 *   Log Matching         an (index, term) pair names one entry with one predecessor term,
 *                        which by induction makes the whole prefix identical;
 *   Leader Completeness  a leader of term T holds every entry committed before T;
 *   State Machine Safety every node applies the same entry (and reaches the same state) at
 *                        each index, including through snapshots;
 *   Durability           a restarted node never recovers a committed index with another entry.
 */
import type { GroupId, LogEntry, NodeId, RaftMachine } from "../../src/raft/index.js";

export interface Violation {
  readonly invariant: string;
  readonly groupId: GroupId;
  readonly timeMs: number;
  readonly detail: string;
}

interface CommittedEntry {
  term: number;
  key: string;
  /** An upper bound on the term in which the entry was committed. */
  commitTerm: number;
}

class GroupLedger {
  readonly leaderOfTerm = new Map<number, NodeId>();
  /** "index:term" -> "prevTerm|key" for every entry any node ever persisted. */
  readonly entries = new Map<string, string>();
  readonly committed: CommittedEntry[] = [];
  /** index -> state hash after applying that index. */
  readonly applied: number[] = [];
  readonly commitSeen = new Map<NodeId, number>();
  maxCommitted = 0;
}

const decoder = new TextDecoder();

export function entryKey(entry: LogEntry): string {
  if (entry.kind === "noop") return "noop";
  const text = decoder.decode(entry.data);
  return entry.kind === "membership" ? `m:${text}` : text;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly ledgers = new Map<GroupId, GroupLedger>();
  elections = 0;
  /** Called when a node is first seen leading a term (the nemesis may target it). */
  onNewLeader: (groupId: GroupId, nodeId: NodeId) => void = () => {};

  constructor(private readonly clockMs: () => number) {}

  private ledger(groupId: GroupId): GroupLedger {
    let ledger = this.ledgers.get(groupId);
    if (ledger === undefined) {
      ledger = new GroupLedger();
      this.ledgers.set(groupId, ledger);
    }
    return ledger;
  }

  private fail(invariant: string, groupId: GroupId, detail: string): void {
    this.violations.push({ invariant, groupId, timeMs: this.clockMs(), detail });
  }

  /** Looks at a node's role and commit index after every input it was given. */
  observe(groupId: GroupId, machine: RaftMachine): void {
    const ledger = this.ledger(groupId);
    const status = machine.status();
    if (status.role === "leader") {
      const known = ledger.leaderOfTerm.get(status.term);
      if (known === undefined) {
        ledger.leaderOfTerm.set(status.term, status.id);
        this.elections++;
        this.checkLeaderCompleteness(groupId, ledger, machine, status.term);
        this.onNewLeader(groupId, status.id);
      } else if (known !== status.id) {
        this.fail(
          "election safety",
          groupId,
          `${known} and ${status.id} both lead term ${status.term}`,
        );
      }
    }
    const seen = ledger.commitSeen.get(status.id) ?? status.snapshotIndex;
    if (status.commitIndex > seen) {
      for (let index = seen + 1; index <= status.commitIndex; index++) {
        this.recordCommitted(groupId, ledger, machine, index, status.term);
      }
    }
    ledger.commitSeen.set(status.id, Math.max(seen, status.commitIndex));
  }

  private recordCommitted(
    groupId: GroupId,
    ledger: GroupLedger,
    machine: RaftMachine,
    index: number,
    term: number,
  ): void {
    const entry = machine.entryAt(index);
    const known = ledger.committed[index];
    if (known === undefined) {
      if (entry === undefined) return;
      ledger.committed[index] = { term: entry.term, key: entryKey(entry), commitTerm: term };
      ledger.maxCommitted = Math.max(ledger.maxCommitted, index);
      return;
    }
    known.commitTerm = Math.min(known.commitTerm, term);
    if (entry !== undefined && (entry.term !== known.term || entryKey(entry) !== known.key)) {
      this.fail(
        "committed entry lost",
        groupId,
        `${machine.id} has ${entryKey(entry)}@${entry.term} at committed index ${index}, ` +
          `which holds ${known.key}@${known.term}`,
      );
    }
  }

  private checkLeaderCompleteness(
    groupId: GroupId,
    ledger: GroupLedger,
    machine: RaftMachine,
    term: number,
  ): void {
    const { snapshotIndex } = machine.status();
    for (let index = snapshotIndex + 1; index <= ledger.maxCommitted; index++) {
      const known = ledger.committed[index];
      if (known === undefined || known.commitTerm >= term) continue;
      const held = machine.termAt(index);
      if (held !== known.term) {
        this.fail(
          "leader completeness",
          groupId,
          `${machine.id} leads term ${term} without entry ${index}@${known.term} ` +
            `committed in term ${known.commitTerm} (holds term ${held})`,
        );
        return;
      }
    }
  }

  /** Log Matching, checked on every batch of entries a node is about to persist. */
  onPersist(groupId: GroupId, machine: RaftMachine, entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const ledger = this.ledger(groupId);
    let prevTerm = machine.termAt(entries[0].index - 1);
    for (const entry of entries) {
      const id = `${entry.index}:${entry.term}`;
      const content = `${prevTerm}|${entryKey(entry)}`;
      const known = ledger.entries.get(id);
      if (known === undefined) ledger.entries.set(id, content);
      else if (known !== content) {
        this.fail(
          "log matching",
          groupId,
          `${machine.id} has ${id} as ${content}, another node as ${known}`,
        );
      }
      prevTerm = entry.term;
    }
  }

  /** State Machine Safety: the state after index is the same on every node. */
  onApplied(groupId: GroupId, nodeId: NodeId, index: number, stateHash: number): void {
    const ledger = this.ledger(groupId);
    const known = ledger.applied[index];
    if (known === undefined) ledger.applied[index] = stateHash;
    else if (known !== stateHash) {
      this.fail(
        "state machine safety",
        groupId,
        `${nodeId} reached state ${stateHash} at index ${index}, another node ${known}`,
      );
    }
  }

  /** A node restarted: everything it now considers committed is checked again. */
  onRestart(groupId: GroupId, nodeId: NodeId): void {
    this.ledger(groupId).commitSeen.delete(nodeId);
  }

  committedKeyAt(groupId: GroupId, index: number): string | undefined {
    return this.ledger(groupId).committed[index]?.key;
  }

  maxCommitted(groupId: GroupId): number {
    return this.ledger(groupId).maxCommitted;
  }

  fault(invariant: string, groupId: GroupId, detail: string): void {
    this.fail(invariant, groupId, detail);
  }
}
