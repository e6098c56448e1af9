/**
 * A node's log as the Raft core sees it: a snapshot boundary followed by the entries after it,
 * all held in memory, plus a watermark of what has reached stable storage. The core writes
 * nothing itself; it hands the unstable tail to the runtime in a Ready and learns in advance()
 * that it is durable.
 */
import { decodeMembership } from "./membership.js";
import type { LogEntry, Membership, SnapshotMeta } from "./types.js";
import { entrySizeBytes } from "./types.js";

interface MembershipMark {
  readonly index: number;
  readonly membership: Membership;
}

export class RaftLog {
  private base: SnapshotMeta;
  private entries: LogEntry[];
  /** Membership entries still in the log, oldest first, so truncation can roll back to one. */
  private memberships: MembershipMark[] = [];
  /** First index not yet known to be on stable storage. */
  private unstableFrom: number;

  constructor(base: SnapshotMeta, entries: readonly LogEntry[]) {
    this.base = base;
    this.entries = [];
    for (const entry of entries) this.push(entry);
    this.unstableFrom = this.lastIndex() + 1;
  }

  snapshotMeta(): SnapshotMeta {
    return this.base;
  }

  firstIndex(): number {
    return this.base.index + 1;
  }

  lastIndex(): number {
    return this.base.index + this.entries.length;
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex()) ?? 0;
  }

  /** The term of the entry at index, or undefined if it is compacted away or not there yet. */
  termAt(index: number): number | undefined {
    if (index === this.base.index) return this.base.term;
    if (index < this.base.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.base.index - 1].term;
  }

  entryAt(index: number): LogEntry | undefined {
    if (index <= this.base.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.base.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Entries in [from, to], stopping early once maxBytes is reached (but always at least one). */
  slice(from: number, to: number, maxBytes = Number.POSITIVE_INFINITY): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let index = Math.max(from, this.firstIndex()); index <= to; index++) {
      const entry = this.entryAt(index);
      if (entry === undefined) break;
      bytes += entrySizeBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** The configuration in force: the latest membership entry, committed or not (§4.1). */
  membership(): Membership {
    const last = this.memberships[this.memberships.length - 1];
    return last === undefined ? this.base.membership : last.membership;
  }

  /** The membership in force at index, for snapshot metadata. */
  membershipAt(index: number): Membership {
    let found = this.base.membership;
    for (const mark of this.memberships) {
      if (mark.index > index) break;
      found = mark.membership;
    }
    return found;
  }

  /** Index of the latest membership entry in the log, or 0. */
  lastMembershipIndex(): number {
    return this.memberships[this.memberships.length - 1]?.index ?? 0;
  }

  /**
   * The first index where entries disagree with the log (a term differs or the log ends
   * there), or 0 if the log already holds all of them (Raft §5.3, receiver rule 3).
   */
  findConflict(entries: readonly LogEntry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index at or below index whose term is at most term. Both sides of a rejected
   * append use it to skip every entry of a conflicting term in one round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let at = Math.min(index, this.lastIndex());
    while (at > this.base.index) {
      const atTerm = this.termAt(at);
      if (atTerm !== undefined && atTerm <= term) break;
      at--;
    }
    return at;
  }

  /**
   * Appends entries whose first index is at most lastIndex + 1, dropping any existing entries
   * from that index on. Callers ensure committed entries are never dropped.
   */
  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first > this.lastIndex() + 1 || first <= this.base.index) {
      throw new Error(`append at ${first} leaves a gap after ${this.lastIndex()}`);
    }
    this.truncateFrom(first);
    for (const entry of entries) this.push(entry);
  }

  private truncateFrom(index: number): void {
    if (index > this.lastIndex()) return;
    this.entries.length = index - this.base.index - 1;
    while (
      this.memberships.length > 0 &&
      this.memberships[this.memberships.length - 1].index >= index
    ) {
      this.memberships.pop();
    }
    this.unstableFrom = Math.min(this.unstableFrom, index);
  }

  private push(entry: LogEntry): void {
    if (entry.index !== this.lastIndex() + 1) {
      throw new Error(`entry ${entry.index} does not follow ${this.lastIndex()}`);
    }
    if (entry.term < this.lastTerm()) {
      throw new Error(`entry ${entry.index} has term ${entry.term} below ${this.lastTerm()}`);
    }
    this.entries.push(entry);
    if (entry.kind === "membership") {
      this.memberships.push({ index: entry.index, membership: decodeMembership(entry.data) });
    }
  }

  /** Drops entries up to meta.index after a local snapshot; meta.index must be in the log. */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.base.index) return;
    if (!this.matchTerm(meta.index, meta.term)) {
      throw new Error(`cannot compact to ${meta.index}: not in the log`);
    }
    this.entries = this.entries.slice(meta.index - this.base.index);
    this.memberships = this.memberships.filter((mark) => mark.index > meta.index);
    this.base = meta;
  }

  /** Replaces the whole log with a snapshot from the leader (Raft §7, receiver rule 7). */
  restore(meta: SnapshotMeta): void {
    this.base = meta;
    this.entries = [];
    this.memberships = [];
    this.unstableFrom = meta.index + 1;
  }

  /** Entries not yet handed to stable storage. */
  unstableEntries(): LogEntry[] {
    return this.slice(this.unstableFrom, this.lastIndex());
  }

  /** The last index known to be on stable storage. */
  stableIndex(): number {
    return this.unstableFrom - 1;
  }

  /**
   * Marks entries up to index durable, unless the log changed under the write: an entry of a
   * different term now sits there, so what was written is stale (etcd's unstable.stableTo).
   */
  stableTo(index: number, term: number): void {
    if (index < this.unstableFrom) return;
    if (!this.matchTerm(index, term)) return;
    this.unstableFrom = index + 1;
  }
}
