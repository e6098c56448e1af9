/**
 * The message-level rules of elections (Raft §5.2, dissertation §9.6 for pre-vote), as pure
 * functions. Whether a candidate's log is up to date (§5.4.1) is decided by the machine.
 */
import type { RaftMessage, VoteRequest, VoteResponse } from "./messages.js";
import type { RaftLog } from "./raft-log.js";
import type { NodeId } from "./types.js";

export interface VoterState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
}

/**
 * Raft §5.2: at most one vote per term, first come first served; a repeated request from
 * the same candidate gets the same answer. A pre-vote for a later term binds nothing.
 */
export function mayVoteFor(voter: VoterState, request: VoteRequest): boolean {
  return (
    voter.votedFor === request.from ||
    (voter.votedFor === null && voter.leaderId === null) ||
    (request.preVote && request.term > voter.term)
  );
}

export function voteAnswer(
  from: NodeId,
  currentTerm: number,
  request: VoteRequest,
  granted: boolean,
): VoteResponse {
  return {
    type: "voteResponse",
    from,
    to: request.from,
    // A granted pre-vote answers in the proposed term so the candidate can tell it apart.
    term: granted ? request.term : currentTerm,
    preVote: request.preVote,
    granted,
  };
}

/** The requests a (pre-)candidate sends to every other voter. */
export function voteRequests(
  candidate: NodeId,
  voters: readonly NodeId[],
  voteTerm: number,
  log: RaftLog,
  preVote: boolean,
  transfer: boolean,
): RaftMessage[] {
  return voters
    .filter((voter) => voter !== candidate)
    .map((voter) => ({
      type: "vote",
      from: candidate,
      to: voter,
      term: voteTerm,
      preVote,
      lastIndex: log.lastIndex(),
      lastTerm: log.lastTerm(),
      transfer,
    }));
}
