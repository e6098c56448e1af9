/**
 * The tunables of one Raft node. Time is counted in ticks: the runtime calls tick() on a
 * timer (or the simulator on its clock), so the core never reads a clock itself.
 */
import type { NodeId } from "./types.js";

export interface RaftOptions {
  readonly id: NodeId;
  /**
   * Base election timeout. Each follower waits a random number of ticks in
   * [electionTicks, 2 * electionTicks) before campaigning, so split votes are rare (Raft §5.2).
   */
  readonly electionTicks: number;
  /** A leader sends heartbeats this often; must be well below electionTicks. */
  readonly heartbeatTicks: number;
  /** Ask "would you vote for me?" before bumping the term (dissertation §9.6). */
  readonly preVote: boolean;
  /** A leader steps down when a majority has not answered within electionTicks (§6.2). */
  readonly checkQuorum: boolean;
  /** Upper bound on the entries bytes one append message carries. */
  readonly maxAppendBytes: number;
  /** Appends in flight to one follower before the leader waits for answers. */
  readonly maxInflightAppends: number;
  /** Bytes in flight to one follower before the leader waits for answers. */
  readonly maxInflightBytes: number;
  /** Proposals are refused while this many entries wait for commit: backpressure. */
  readonly maxUncommittedEntries: number;
  /** Upper bound on committed entry bytes handed out for applying in one Ready. */
  readonly maxApplyBytes: number;
  /**
   * Source of randomness in [0, 1) for election timeouts. Injected so that a simulation
   * replays exactly from its seed.
   */
  readonly random: () => number;
}

export const DEFAULT_RAFT_OPTIONS: Omit<RaftOptions, "id" | "random"> = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxAppendBytes: 1024 * 1024,
  maxInflightAppends: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedEntries: 65_536,
  maxApplyBytes: 16 * 1024 * 1024,
};

/** The defaults with the caller's choices; the id and the random source have no default. */
export function raftOptions(
  partial: Partial<RaftOptions> & Pick<RaftOptions, "id" | "random">,
): RaftOptions {
  const options: RaftOptions = { ...DEFAULT_RAFT_OPTIONS, ...partial };
  if (options.heartbeatTicks < 1 || options.heartbeatTicks >= options.electionTicks) {
    throw new Error("heartbeatTicks must be at least 1 and below electionTicks");
  }
  return options;
}
