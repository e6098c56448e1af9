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
import { mayVoteFor, voteAnswer, voteRequests } from "./election.js";
import { acceptAppend, judgeSnapshot } from "./follower-replication.js";
import { LeaderReplication } from "./leader-replication.js";
import type { MembershipChange } from "./membership.js";
import { applyMembershipChange, encodeMembership, isVoter } from "./membership.js";
import type { AppendRequest, RaftMessage, SnapshotRequest, VoteRequest } from "./messages.js";
import { isFromLeader } from "./messages.js";
import { RaftLog } from "./raft-log.js";
import type { RaftOptions } from "./raft-options.js";
import type { ProposeRefusal, ProposeResult, RaftStatus, Role } from "./raft-status.js";
import type { Ready } from "./ready.js";
import { ReadyTracker } from "./ready-tracker.js";
import type { EntryKind, HardState, LogEntry, NodeId, PersistedState, Snapshot } from "./types.js";
import { VoteTally } from "./vote-tally.js";

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
  private latestSnapshot: Snapshot;
  private readonly effects: ReadyTracker;
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
    this.effects = new ReadyTracker(persisted.hardState, snapshotIndex);
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
    this.effects.compaction(this.latestSnapshot);
    return true;
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.effects.outstanding) return false;
    this.flushBroadcast();
    return this.effects.hasWork(this.log, this.hardState(), this.commitIndex);
  }

  /** Collects everything to persist, send and apply. Call advance(ready) when done. */
  ready(): Ready {
    this.flushBroadcast();
    const { maxApplyBytes } = this.options;
    return this.effects.take(this.log, this.hardState(), this.commitIndex, maxApplyBytes);
  }

  /** The runtime has persisted, sent and applied everything in ready. */
  advance(ready: Ready): void {
    this.effects.outstanding = false;
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
        this.send(voteAnswer(this.id, this.term, message, false));
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
    const { voters } = this.log.membership();
    for (const request of voteRequests(this.id, voters, voteTerm, this.log, preVote, transfer)) {
      this.send(request);
    }
  }

  /** Raft §5.2 and §5.4.1: one vote per term, and only for an up-to-date log. */
  private handleVoteRequest(message: VoteRequest): void {
    const voter = { term: this.term, votedFor: this.votedFor, leaderId: this.leaderId };
    const granted =
      mayVoteFor(voter, message) &&
      this.candidateLogIsUpToDate(message.lastTerm, message.lastIndex);
    if (granted && !message.preVote) {
      this.electionElapsedTicks = 0;
      this.votedFor = message.from;
    }
    this.send(voteAnswer(this.id, this.term, message, granted));
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

  private handleAppend(message: AppendRequest): void {
    const outcome = acceptAppend(this.log, this.commitIndex, message);
    if (outcome.logChanged) this.onLogChanged();
    this.commitTo(outcome.commitIndex);
    this.send({
      type: "appendResponse",
      from: this.id,
      to: message.from,
      term: this.term,
      success: outcome.success,
      matchIndex: outcome.matchIndex,
      rejectedIndex: message.prevIndex,
      hintIndex: outcome.hintIndex,
      hintTerm: outcome.hintTerm,
    });
  }

  private handleSnapshot(message: SnapshotRequest): void {
    const { meta } = message.snapshot;
    const verdict = judgeSnapshot(this.log, this.commitIndex, meta);
    if (verdict.action === "commit") this.commitTo(meta.index);
    if (verdict.action === "install") {
      this.log.restore(meta);
      this.latestSnapshot = message.snapshot;
      this.effects.install(message.snapshot);
      this.commitIndex = meta.index;
      this.onLogChanged();
    }
    this.send({
      type: "appendResponse",
      from: this.id,
      to: message.from,
      term: this.term,
      success: true,
      matchIndex: verdict.matchIndex,
      rejectedIndex: meta.index,
      hintIndex: 0,
      hintTerm: 0,
    });
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
    this.effects.send(message);
  }

  private hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.commitIndex };
  }
}
