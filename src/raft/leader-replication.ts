/**
 * The leader's half of log replication (Raft §5.3): one Progress per follower and learner,
 * what to send each of them next, and what their answers teach. It exists only while its node
 * leads one term, so term and sender never change underneath it.
 */

import { allMembers } from "./membership.js";
import type { AppendResponse, RaftMessage } from "./messages.js";
import { Progress } from "./progress.js";
import type { RaftLog } from "./raft-log.js";
import type { RaftOptions } from "./raft-options.js";
import type { Membership, NodeId, Snapshot } from "./types.js";
import { entrySizeBytes } from "./types.js";

export interface ReplicationContext {
  readonly options: RaftOptions;
  readonly term: number;
  readonly log: RaftLog;
  commitIndex(): number;
  latestSnapshot(): Snapshot;
  send(message: RaftMessage): void;
}

export class LeaderReplication {
  private readonly peers = new Map<NodeId, Progress>();

  constructor(
    private readonly ctx: ReplicationContext,
    membership: Membership,
  ) {
    this.syncMembership(membership);
  }

  /** Starts tracking new members and forgets removed ones; new ones are probed from the end. */
  syncMembership(membership: Membership): void {
    const members = new Set(allMembers(membership));
    members.delete(this.ctx.options.id);
    for (const id of this.peers.keys()) if (!members.has(id)) this.peers.delete(id);
    for (const id of members) {
      if (this.peers.has(id)) continue;
      const { maxInflightAppends, maxInflightBytes } = this.ctx.options;
      const progress = new Progress(
        id,
        this.ctx.log.lastIndex() + 1,
        maxInflightAppends,
        maxInflightBytes,
      );
      // A new peer counts as active so check-quorum does not depose a leader that just added it.
      progress.recentActive = true;
      this.peers.set(id, progress);
    }
  }

  progress(id: NodeId): Progress | undefined {
    return this.peers.get(id);
  }

  peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  /**
   * Sends the follower what it needs next if flow control allows: entries, or the snapshot
   * when those entries are compacted away. An empty append goes out only if sendIfEmpty.
   * Returns true if something was sent.
   */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.peers.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const { log, options } = this.ctx;
    const prevIndex = progress.nextIndex - 1;
    const prevTerm = log.termAt(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(progress);
    const entries = log.slice(progress.nextIndex, log.lastIndex(), options.maxAppendBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    let sizeBytes = 0;
    for (const entry of entries) sizeBytes += entrySizeBytes(entry);
    this.ctx.send({
      type: "append",
      from: options.id,
      to,
      term: this.ctx.term,
      prevIndex,
      prevTerm,
      entries,
      commitIndex: this.ctx.commitIndex(),
    });
    progress.sentAppend(prevIndex + entries.length, sizeBytes, entries.length);
    return true;
  }

  /** Keeps sending while the window allows: the pipelining of replicate state. */
  sendAllowed(to: NodeId): void {
    // Terminates: each send either advances nextIndex or pauses the progress.
    let sent = true;
    while (sent) sent = this.sendAppend(to, false);
  }

  broadcastAppend(): void {
    for (const id of this.peers.keys()) this.sendAllowed(id);
  }

  private sendSnapshot(progress: Progress): boolean {
    const snapshot = this.ctx.latestSnapshot();
    this.ctx.send({
      type: "snapshot",
      from: this.ctx.options.id,
      to: progress.nodeId,
      term: this.ctx.term,
      snapshot,
    });
    progress.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  broadcastHeartbeat(): void {
    const commitIndex = this.ctx.commitIndex();
    for (const progress of this.peers.values()) {
      this.ctx.send({
        type: "heartbeat",
        from: this.ctx.options.id,
        to: progress.nodeId,
        term: this.ctx.term,
        // Only what the follower is known to hold: it adopts this without a log check.
        commitIndex: Math.min(progress.matchIndex, commitIndex),
      });
    }
  }

  /** Returns true if the follower's match index advanced (the commit index may move). */
  onAppendResponse(message: AppendResponse): boolean {
    const progress = this.peers.get(message.from);
    if (progress === undefined) return false;
    progress.recentActive = true;
    if (!message.success) {
      // Raft §5.3 fast backtracking: skip the follower's whole conflicting term at once.
      const probeHint =
        message.hintTerm > 0
          ? this.ctx.log.findConflictByTerm(message.hintIndex, message.hintTerm)
          : message.hintIndex;
      if (progress.rejected(message.rejectedIndex, probeHint)) this.sendAppend(message.from, true);
      return false;
    }
    const wasPaused = progress.isPaused();
    const advanced = progress.acknowledge(message.matchIndex);
    if (advanced) {
      if (progress.state === "probe") progress.becomeReplicate();
      else if (
        progress.state === "snapshot" &&
        progress.matchIndex >= progress.pendingSnapshotIndex
      ) {
        progress.becomeProbe();
      }
    }
    if (advanced || wasPaused) this.sendAllowed(message.from);
    return advanced;
  }

  onHeartbeatResponse(from: NodeId): void {
    const progress = this.peers.get(from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    // An answer lost in a full window would stall the follower forever: free one slot.
    if (progress.state === "replicate" && progress.inflights.full()) {
      progress.inflights.freeFirst();
    }
    if (progress.matchIndex < this.ctx.log.lastIndex()) this.sendAppend(from, true);
  }

  markActive(from: NodeId): void {
    const progress = this.peers.get(from);
    if (progress !== undefined) progress.recentActive = true;
  }

  /** A snapshot that got no answer for an election timeout is sent again via a probe. */
  tick(): void {
    for (const progress of this.peers.values()) {
      if (progress.state !== "snapshot") continue;
      progress.snapshotElapsedTicks++;
      if (progress.snapshotElapsedTicks >= this.ctx.options.electionTicks) {
        progress.state = "probe";
        progress.nextIndex = progress.matchIndex + 1;
        progress.probeSent = false;
        progress.pendingSnapshotIndex = 0;
      }
    }
  }

  /**
   * The highest index stored on a majority of voters, counting the leader's own durable log
   * as selfMatchIndex when it is a voter.
   */
  quorumMatchIndex(membership: Membership, selfMatchIndex: number): number {
    const matches = membership.voters.map((id) =>
      id === this.ctx.options.id ? selfMatchIndex : (this.peers.get(id)?.matchIndex ?? 0),
    );
    if (matches.length === 0) return 0;
    matches.sort((a, b) => b - a);
    return matches[Math.floor(matches.length / 2)];
  }

  /** True if a majority of voters (the leader included) was heard from this round. */
  quorumActive(membership: Membership): boolean {
    let active = 0;
    for (const id of membership.voters) {
      if (id === this.ctx.options.id || this.peers.get(id)?.recentActive) active++;
    }
    return active >= Math.floor(membership.voters.length / 2) + 1;
  }

  resetRecentActive(): void {
    for (const progress of this.peers.values()) progress.recentActive = false;
  }
}
