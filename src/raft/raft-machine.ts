/**
 * Raft as a pure state machine, in the style of etcd-io/raft. Inputs are messages (step),
 * clock ticks (tick) and requests (propose, proposeMembershipChange, transferLeadership,
 * compact). Outputs are collected into a Ready (see ready.ts for the order in which the
 * runtime must carry them out). Nothing here touches a socket, a file or a clock.
 *
 * Section numbers cite the Raft paper (Ongaro and Ousterhout, 2014); "dissertation" cites
 * Ongaro's PhD thesis (2014), which adds pre-vote, check-quorum, leadership transfer and
 * single-server membership changes.
 */
import { LeaderReplication } from "./leader-replication.js";
import type { MembershipChange } from "./membership.js";
import { applyMembershipChange, encodeMembership, isVoter } from "./membership.js";
import type { AppendRequest, RaftMessage, SnapshotRequest, VoteRequest } from "./messages.js";
import { isFromLeader } from "./messages.js";
import { RaftLog } from "./raft-log.js";
import type { RaftOptions } from "./raft-options.js";
import type { Ready } from "./ready.js";
import type {
  EntryKind,
  HardState,
  LogEntry,
  Membership,
  NodeId,
  PersistedState,
  Snapshot,
} from "./types.js";
import { VoteTally } from "./vote-tally.js";

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export type ProposeRefusal =
  | "notLeader"
  | "transferring"
  | "tooManyUncommitted"
  | "membershipChangePending"
  | "leaderNotReady"
  | "learnerNotCaughtUp"
  | "invalidMembershipChange";

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: ProposeRefusal;
      readonly leaderId: NodeId | null;
      readonly detail?: string;
    };

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly stableIndex: number;
  readonly membership: Membership;
  readonly transferee: NodeId | null;
}

const NO_DATA = new Uint8Array(0);

export class RaftMachine {
  readonly id: NodeId;
  protected readonly options: RaftOptions;
  protected readonly log: RaftLog;
  protected term: number;
  protected votedFor: NodeId | null;
  protected role: Role = "follower";
  protected leaderId: NodeId | null = null;
  protected commitIndex: number;
  /** Everything up to here was applied by the runtime (it called advance). */
  protected appliedIndex: number;
  /** Committed entries up to here were handed out in a Ready. */
  private handedOutIndex: number;
  private latestSnapshot: Snapshot;
  private pendingInstall: Snapshot | null = null;
  private pendingCompaction: Snapshot | null = null;
  private outbox: RaftMessage[] = [];
  private handedOutHardState: HardState;
  private readyOutstanding = false;
  private pendingBroadcast = false;
  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTicks = 0;
  private tally: VoteTally | null = null;
  private replication: LeaderReplication | null = null;
  private transferee: NodeId | null = null;
  private transferElapsedTicks = 0;

  constructor(options: RaftOptions, persisted: PersistedState) {
    this.id = options.id;
    this.options = options;
    this.log = new RaftLog(persisted.snapshot.meta, persisted.entries);
    this.latestSnapshot = persisted.snapshot;
    this.term = persisted.hardState.term;
    this.votedFor = persisted.hardState.votedFor;
    const snapshotIndex = persisted.snapshot.meta.index;
    this.commitIndex = Math.min(
      Math.max(persisted.hardState.commitIndex, snapshotIndex),
      this.log.lastIndex(),
    );
    // The runtime restores its state machine from the stored snapshot before driving us.
    this.appliedIndex = snapshotIndex;
    this.handedOutIndex = snapshotIndex;
    this.handedOutHardState = persisted.hardState;
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: elections, heartbeats, check-quorum. */
  tick(): void {
    this.electionElapsedTicks++;
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  /** Feeds one message from another node of this group. */
  step(message: RaftMessage): void {
    if (message.to !== this.id || message.from === this.id) return;
    if (!this.checkTerm(message)) return;
    if (message.type === "vote") {
      this.handleVoteRequest(message);
      return;
    }
    switch (this.role) {
      case "follower":
        this.stepFollower(message);
        break;
      case "preCandidate":
      case "candidate":
        this.stepCandidate(message);
        break;
      case "leader":
        this.stepLeader(message);
        break;
    }
  }

  /** Appends an application command if this node leads; the answer says where it went. */
  propose(data: Uint8Array): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal !== null) return refusal;
    return this.appendAsLeader("command", data);
  }

  /**
   * Proposes one membership change (dissertation §4.1). Refused while another change is
   * uncommitted, and until this leader has committed an entry of its own term: without that
   * rule a single-server change can overlap one from a previous term (Ongaro, raft-dev 2015).
   */
  proposeMembershipChange(change: MembershipChange): ProposeResult {
    const refusal = this.refuseProposal();
    if (refusal !== null) return refusal;
    if (this.log.lastMembershipIndex() > this.commitIndex) {
      return this.refused("membershipChangePending");
    }
    if (this.log.termAt(this.commitIndex) !== this.term) return this.refused("leaderNotReady");
    if (change.type === "promoteLearner") {
      const progress = this.replication?.progress(change.nodeId);
      if (progress !== undefined && progress.matchIndex < this.commitIndex) {
        return this.refused("learnerNotCaughtUp");
      }
    }
    const next = applyMembershipChange(this.log.membership(), change);
    if (typeof next === "string") return this.refused("invalidMembershipChange", next);
    return this.appendAsLeader("membership", encodeMembership(next));
  }

  /** Hands leadership to a voter once its log is complete (dissertation §3.10). */
  transferLeadership(target: NodeId): ProposeResult {
    if (this.role !== "leader") return this.refused("notLeader");
    if (target === this.id) return { ok: true, index: this.log.lastIndex(), term: this.term };
    if (!isVoter(this.log.membership(), target)) {
      return this.refused("invalidMembershipChange", `${target} is not a voter`);
    }
    this.transferee = target;
    this.transferElapsedTicks = 0;
    this.maybeSendTimeoutNow();
    if (this.transferee !== null) this.replication?.sendAllowed(target);
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  /**
   * Records a snapshot of the application's state at index (which it has applied) and drops
   * the log up to there (Raft §7). The next Ready carries it as compaction for the store.
   */
  compact(index: number, data: Uint8Array): boolean {
    if (index <= this.log.snapshotMeta().index || index > this.appliedIndex) return false;
    const term = this.log.termAt(index);
    if (term === undefined) return false;
    const meta = { index, term, membership: this.log.membershipAt(index) };
    this.log.compact(meta);
    this.latestSnapshot = { meta, data };
    this.pendingCompaction = this.latestSnapshot;
    return true;
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    this.flushBroadcast();
    return (
      this.outbox.length > 0 ||
      this.pendingInstall !== null ||
      this.pendingCompaction !== null ||
      this.log.stableIndex() < this.log.lastIndex() ||
      this.commitIndex > this.handedOutIndex ||
      !sameHardState(this.hardState(), this.handedOutHardState)
    );
  }

  /** Collects everything to persist, send and apply. Call advance(ready) when done. */
  ready(): Ready {
    if (this.readyOutstanding) throw new Error("ready() called again before advance()");
    this.flushBroadcast();
    const hardState = this.hardState();
    const last = this.handedOutHardState;
    const hardStateChanged = !sameHardState(hardState, last);
    const entries = this.log.unstableEntries();
    const committed = this.log.slice(
      this.handedOutIndex + 1,
      this.commitIndex,
      this.options.maxApplyBytes,
    );
    const ready: Ready = {
      hardState: hardStateChanged ? hardState : null,
      snapshot: this.pendingInstall,
      compaction: this.pendingCompaction,
      entries,
      mustSync:
        entries.length > 0 ||
        this.pendingInstall !== null ||
        hardState.term !== last.term ||
        hardState.votedFor !== last.votedFor,
      messages: this.outbox,
      committed,
    };
    this.outbox = [];
    this.pendingInstall = null;
    this.pendingCompaction = null;
    this.handedOutHardState = hardState;
    if (committed.length > 0) this.handedOutIndex = committed[committed.length - 1].index;
    this.readyOutstanding = true;
    return ready;
  }

  /** The runtime has persisted, sent and applied everything in ready. */
  advance(ready: Ready): void {
    this.readyOutstanding = false;
    if (ready.snapshot !== null) {
      this.appliedIndex = Math.max(this.appliedIndex, ready.snapshot.meta.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = ready.committed[ready.committed.length - 1];
    if (lastApplied !== undefined) {
      this.appliedIndex = Math.max(this.appliedIndex, lastApplied.index);
    }
    // The leader counts its own log only once it is durable.
    if (this.role === "leader") this.maybeCommit();
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      votedFor: this.votedFor,
      leaderId: this.leaderId,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      snapshotIndex: this.log.snapshotMeta().index,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      stableIndex: this.log.stableIndex(),
      membership: this.log.membership(),
      transferee: this.transferee,
    };
  }

  /** Read-only views of the log, for status pages and the simulator's invariant checks. */
  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  entryAt(index: number): LogEntry | undefined {
    return this.log.entryAt(index);
  }

  // ---------------------------------------------------------------- decisions

  /**
   * Raft §5.4.1, election restriction: vote only for a candidate whose log is at least as
   * up-to-date as ours: a later last term, or the same last term and at least as long.
   */
  protected candidateLogIsUpToDate(lastTerm: number, lastIndex: number): boolean {
    const ourLastTerm = this.log.lastTerm();
    return (
      lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.log.lastIndex())
    );
  }

  /**
   * Raft §5.4.2: a leader commits by counting replicas only entries of its own term; earlier
   * entries commit indirectly, by the Log Matching Property.
   */
  protected canCommitByCounting(index: number): boolean {
    return this.log.termAt(index) === this.term;
  }

  // ---------------------------------------------------------------- terms and roles

  /** Raft §5.1: compare terms first. Returns false if the message must be dropped. */
  private checkTerm(message: RaftMessage): boolean {
    if (message.term > this.term) {
      if (message.type === "vote" && !message.transfer && this.inLeaderLease()) {
        // Dissertation §4.2.3: a server that hears from a leader ignores vote requests, so a
        // removed or partitioned server cannot depose a healthy leader.
        return false;
      }
      const keepsTerm =
        (message.type === "vote" && message.preVote) ||
        (message.type === "voteResponse" && message.preVote && message.granted);
      if (!keepsTerm)
        this.becomeFollower(message.term, isFromLeader(message) ? message.from : null);
      return true;
    }
    if (message.term < this.term) {
      if (
        message.type === "append" ||
        message.type === "heartbeat" ||
        message.type === "snapshot"
      ) {
        // A deposed leader learns the newer term from the answer and steps down.
        this.send({ type: "heartbeatResponse", from: this.id, to: message.from, term: this.term });
      } else if (message.type === "vote" && message.preVote) {
        this.send(this.voteAnswer(message, false));
      }
      return false;
    }
    return true;
  }

  private inLeaderLease(): boolean {
    return (
      this.options.checkQuorum &&
      this.leaderId !== null &&
      this.electionElapsedTicks < this.options.electionTicks
    );
  }

  protected becomeFollower(term: number, leaderId: NodeId | null): void {
    if (term !== this.term) {
      this.term = term;
      this.votedFor = null;
    }
    this.role = "follower";
    this.leaderId = leaderId;
    this.resetTimers();
    this.tally = null;
    this.replication = null;
    this.transferee = null;
  }

  private becomePreCandidate(): void {
    this.role = "preCandidate";
    this.leaderId = null;
    this.resetTimers();
    this.tally = new VoteTally(this.log.membership());
  }

  private becomeCandidate(): void {
    this.term++;
    this.votedFor = this.id;
    this.role = "candidate";
    this.leaderId = null;
    this.resetTimers();
    this.tally = new VoteTally(this.log.membership());
  }

  private becomeLeader(): void {
    this.role = "leader";
    this.leaderId = this.id;
    this.tally = null;
    this.resetTimers();
    this.replication = new LeaderReplication(
      {
        options: this.options,
        term: this.term,
        log: this.log,
        commitIndex: () => this.commitIndex,
        latestSnapshot: () => this.latestSnapshot,
        send: (message) => this.send(message),
      },
      this.log.membership(),
    );
    // Raft §8: an entry of the new term lets the leader commit (and learn) what is committed.
    this.appendAsLeader("noop", NO_DATA);
  }

  private resetTimers(): void {
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    const { electionTicks, random } = this.options;
    this.randomizedElectionTicks = electionTicks + Math.floor(random() * electionTicks);
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    if (!isVoter(this.log.membership(), this.id)) return;
    if (this.electionElapsedTicks < this.randomizedElectionTicks) return;
    this.campaign(this.options.preVote ? "preVote" : "election", false);
  }

  private campaign(kind: "preVote" | "election", transfer: boolean): void {
    const preVote = kind === "preVote";
    if (preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const tally = this.tally!;
    tally.record(this.id, true);
    if (tally.outcome() === "won") {
      if (preVote) this.campaign("election", transfer);
      else this.becomeLeader();
      return;
    }
    const voteTerm = preVote ? this.term + 1 : this.term;
    for (const voter of this.log.membership().voters) {
      if (voter === this.id) continue;
      this.send({
        type: "vote",
        from: this.id,
        to: voter,
        term: voteTerm,
        preVote,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  /** Raft §5.2 and §5.4.1: one vote per term, and only for an up-to-date log. */
  private handleVoteRequest(message: VoteRequest): void {
    const canVote =
      this.votedFor === message.from ||
      (this.votedFor === null && this.leaderId === null) ||
      (message.preVote && message.term > this.term);
    const granted = canVote && this.candidateLogIsUpToDate(message.lastTerm, message.lastIndex);
    if (granted && !message.preVote) {
      this.electionElapsedTicks = 0;
      this.votedFor = message.from;
    }
    this.send(this.voteAnswer(message, granted));
  }

  private voteAnswer(message: VoteRequest, granted: boolean): RaftMessage {
    return {
      type: "voteResponse",
      from: this.id,
      to: message.from,
      // A granted pre-vote answers in the proposed term so the candidate can tell it apart.
      term: granted ? message.term : this.term,
      preVote: message.preVote,
      granted,
    };
  }

  private stepCandidate(message: RaftMessage): void {
    if (message.type === "append" || message.type === "heartbeat" || message.type === "snapshot") {
      // A leader of our term exists: Raft §5.2, a candidate that hears from it steps down.
      this.becomeFollower(this.term, message.from);
      this.stepFollower(message);
      return;
    }
    if (message.type !== "voteResponse") return;
    if (message.preVote !== (this.role === "preCandidate")) return;
    const tally = this.tally!;
    tally.record(message.from, message.granted);
    const outcome = tally.outcome();
    if (outcome === "won") {
      if (this.role === "preCandidate") this.campaign("election", false);
      else this.becomeLeader();
    } else if (outcome === "lost") {
      this.becomeFollower(this.term, null);
    }
  }

  // ---------------------------------------------------------------- following

  private stepFollower(message: RaftMessage): void {
    switch (message.type) {
      case "append":
        this.heardFromLeader(message.from);
        this.handleAppend(message);
        break;
      case "heartbeat":
        this.heardFromLeader(message.from);
        this.commitTo(Math.min(message.commitIndex, this.log.lastIndex()));
        this.send({ type: "heartbeatResponse", from: this.id, to: message.from, term: this.term });
        break;
      case "snapshot":
        this.heardFromLeader(message.from);
        this.handleSnapshot(message);
        break;
      case "timeoutNow":
        // Dissertation §3.10: the leader asked us to take over; skip pre-vote and the lease.
        if (isVoter(this.log.membership(), this.id)) this.campaign("election", true);
        break;
      default:
        break;
    }
  }

  private heardFromLeader(leaderId: NodeId): void {
    this.electionElapsedTicks = 0;
    this.leaderId = leaderId;
  }

  /** Raft §5.3, AppendEntries receiver implementation. */
  protected handleAppend(message: AppendRequest): void {
    if (message.prevIndex < this.commitIndex) {
      // Everything up to our commit index matches any leader's log (§5.4): say so.
      this.answerAppend(message.from, true, this.commitIndex, message.prevIndex);
      return;
    }
    if (!this.log.matchTerm(message.prevIndex, message.prevTerm)) {
      const hintIndex = this.log.findConflictByTerm(message.prevIndex, message.prevTerm);
      this.send({
        type: "appendResponse",
        from: this.id,
        to: message.from,
        term: this.term,
        success: false,
        matchIndex: 0,
        rejectedIndex: message.prevIndex,
        hintIndex,
        hintTerm: this.log.termAt(hintIndex) ?? 0,
      });
      return;
    }
    const lastNewIndex = message.prevIndex + message.entries.length;
    const conflict = this.log.findConflict(message.entries);
    if (conflict !== 0) {
      if (conflict <= this.commitIndex) {
        throw new Error(`entry ${conflict} conflicts with the committed log of ${this.id}`);
      }
      // Only from the first conflict on: a delayed, shorter append must not cut the log.
      this.log.append(message.entries.slice(conflict - message.prevIndex - 1));
      this.onLogChanged();
    }
    this.commitTo(Math.min(message.commitIndex, lastNewIndex));
    this.answerAppend(message.from, true, lastNewIndex, message.prevIndex);
  }

  private answerAppend(to: NodeId, success: boolean, matchIndex: number, probed: number): void {
    this.send({
      type: "appendResponse",
      from: this.id,
      to,
      term: this.term,
      success,
      matchIndex,
      rejectedIndex: probed,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  /** Raft §7, InstallSnapshot receiver implementation. */
  private handleSnapshot(message: SnapshotRequest): void {
    const { meta } = message.snapshot;
    if (meta.index <= this.commitIndex) {
      this.answerAppend(message.from, true, this.commitIndex, meta.index);
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // Rule 6: we hold the snapshot's last entry, so keep the log after it.
      this.commitTo(meta.index);
      this.answerAppend(message.from, true, meta.index, meta.index);
      return;
    }
    this.log.restore(meta);
    this.latestSnapshot = message.snapshot;
    this.pendingInstall = message.snapshot;
    this.pendingCompaction = null;
    this.commitIndex = meta.index;
    this.handedOutIndex = meta.index;
    this.onLogChanged();
    this.answerAppend(message.from, true, meta.index, meta.index);
  }

  private commitTo(index: number): void {
    if (index > this.commitIndex) this.commitIndex = index;
  }

  // ---------------------------------------------------------------- leading

  private tickLeader(): void {
    const replication = this.replication!;
    this.heartbeatElapsedTicks++;
    replication.tick();
    if (this.transferee !== null && ++this.transferElapsedTicks >= this.options.electionTicks) {
      this.transferee = null;
    }
    if (this.electionElapsedTicks >= this.options.electionTicks) {
      this.electionElapsedTicks = 0;
      if (this.options.checkQuorum) {
        // Dissertation §6.2: a leader cut off from a majority steps down, so clients of a
        // minority side stop waiting on it.
        if (!replication.quorumActive(this.log.membership())) {
          this.becomeFollower(this.term, null);
          return;
        }
        replication.resetRecentActive();
      }
    }
    if (this.heartbeatElapsedTicks >= this.options.heartbeatTicks) {
      this.heartbeatElapsedTicks = 0;
      replication.broadcastHeartbeat();
    }
  }

  private stepLeader(message: RaftMessage): void {
    const replication = this.replication!;
    switch (message.type) {
      case "appendResponse":
        if (replication.onAppendResponse(message)) this.maybeCommit();
        if (message.from === this.transferee) this.maybeSendTimeoutNow();
        break;
      case "heartbeatResponse":
        replication.onHeartbeatResponse(message.from);
        break;
      case "append":
      case "heartbeat":
      case "snapshot":
        throw new Error(`${this.id} leads term ${this.term} but ${message.from} claims it too`);
      default:
        replication.markActive(message.from);
        break;
    }
  }

  private refuseProposal(): ProposeResult | null {
    if (this.role !== "leader") return this.refused("notLeader");
    if (this.transferee !== null) return this.refused("transferring");
    if (this.log.lastIndex() - this.commitIndex >= this.options.maxUncommittedEntries) {
      return this.refused("tooManyUncommitted");
    }
    return null;
  }

  private refused(reason: ProposeRefusal, detail?: string): ProposeResult {
    return { ok: false, reason, leaderId: this.leaderId, detail };
  }

  private appendAsLeader(kind: EntryKind, data: Uint8Array): ProposeResult {
    const entry: LogEntry = { index: this.log.lastIndex() + 1, term: this.term, kind, data };
    this.log.append([entry]);
    if (kind === "membership") this.onLogChanged();
    this.pendingBroadcast = true;
    return { ok: true, index: entry.index, term: entry.term };
  }

  /** Appends are sent when the Ready is collected, so one turn's proposals share a message. */
  private flushBroadcast(): void {
    if (!this.pendingBroadcast) return;
    this.pendingBroadcast = false;
    this.replication?.broadcastAppend();
  }

  private maybeCommit(): void {
    const replication = this.replication!;
    const membership = this.log.membership();
    const quorumIndex = replication.quorumMatchIndex(membership, this.log.stableIndex());
    if (quorumIndex <= this.commitIndex || !this.canCommitByCounting(quorumIndex)) return;
    this.commitIndex = quorumIndex;
    // Dissertation §4.2.2: a leader removed from the voters steps down once that is committed.
    if (!isVoter(membership, this.id) && this.commitIndex >= this.log.lastMembershipIndex()) {
      this.becomeFollower(this.term, null);
    }
  }

  private maybeSendTimeoutNow(): void {
    const target = this.transferee;
    if (target === null) return;
    const progress = this.replication?.progress(target);
    if (progress === undefined || progress.matchIndex !== this.log.lastIndex()) return;
    this.send({ type: "timeoutNow", from: this.id, to: target, term: this.term });
  }

  /** The log's membership may have changed: a leader starts or stops replicating to peers. */
  private onLogChanged(): void {
    if (this.role !== "leader") return;
    const membership = this.log.membership();
    this.replication!.syncMembership(membership);
    if (this.transferee !== null && !isVoter(membership, this.transferee)) this.transferee = null;
  }

  // ---------------------------------------------------------------- plumbing

  private send(message: RaftMessage): void {
    this.outbox.push(message);
  }

  private hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.commitIndex };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}
