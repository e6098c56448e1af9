/**
 * RabbitMQ's pause_minority, as a pure decision: a node that has not seen a majority of its
 * cluster for longer than the election timeout pauses (closes its clients, takes no new ones),
 * and resumes as soon as it sees a majority again. The runtime feeds it what the metadata Raft
 * group says (a leader heard from, or this node leading with a quorum: checkQuorum) with the
 * time, and carries out the transitions it returns.
 *
 * Waiting for the election timeout first matters: a majority lost for a moment (a leader
 * change, a slow peer) must not disconnect every client of the node, and a real partition
 * must have made the old leader step down (checkQuorum, same timeout) before the minority
 * stops serving, so that at no moment do both sides serve.
 */
export type MajorityTransition =
  | { readonly kind: "pause"; readonly lostForMs: number }
  | { readonly kind: "resume"; readonly pausedForMs: number };

export class MajorityWatch {
  /** Since when no majority has been seen (undefined while one is). */
  private lostSinceMs: number | undefined;
  private pausedAtMs: number | undefined;

  constructor(private readonly timeoutMs: number) {}

  get paused(): boolean {
    return this.pausedAtMs !== undefined;
  }

  /** Whether a majority is seen now; returns the transition to carry out, if any. */
  observe(nowMs: number, seesMajority: boolean): MajorityTransition | undefined {
    if (seesMajority) {
      this.lostSinceMs = undefined;
      if (this.pausedAtMs === undefined) return undefined;
      const pausedForMs = nowMs - this.pausedAtMs;
      this.pausedAtMs = undefined;
      return { kind: "resume", pausedForMs };
    }
    this.lostSinceMs ??= nowMs;
    const lostForMs = nowMs - this.lostSinceMs;
    if (this.pausedAtMs !== undefined || lostForMs <= this.timeoutMs) return undefined;
    this.pausedAtMs = nowMs;
    return { kind: "pause", lostForMs };
  }
}
