/**
 * The transport's log lines, in one place so they read alike: which peer, at which address,
 * what happened, what the node does about it. Lines that a misconfigured or unreachable peer
 * would repeat at every retry go through a LogLimiter: one line, then a reminder with the
 * count at most once per interval.
 */
import type { Log } from "../../log.js";
import type { NodeId } from "../../raft/index.js";
import { LogLimiter } from "./log-limiter.js";
import type { CloseCause } from "./peer-connection.js";

export const DEFAULT_REPEAT_LOG_INTERVAL_MS = 60_000;

const ADVICE: Record<string, string> = {
  badSecret:
    "check that every node has the same cluster secret (--cluster-secret or .warren-cookie)",
  unexpectedPeer: "check the node names and addresses in --cluster-nodes on both nodes",
  versionMismatch: "run the same Warren version on every node (upgrade one node at a time)",
  protocolError: "the peer is not a Warren node of this version, or the link is damaged",
};

export class TransportLog {
  private readonly limiter: LogLimiter;

  constructor(
    private readonly log: Log,
    private readonly localName: NodeId,
    private readonly now: () => number,
    intervalMs = DEFAULT_REPEAT_LOG_INTERVAL_MS,
  ) {
    this.limiter = new LogLimiter(intervalMs);
  }

  linkUp(peer: NodeId, address: string, failedAttempts: number): void {
    const after = failedAttempts > 0 ? ` after ${failedAttempts} failed attempts` : "";
    this.log.info(
      { peer, address, failedAttempts },
      `cluster link to ${peer} at ${address} is up${after}`,
    );
  }

  linkLost(peer: NodeId, address: string, cause: CloseCause, retryMs: number): void {
    this.log.warn(
      { peer, address, reason: causeText(cause), retryMs },
      `cluster link to ${peer} at ${address} lost (${causeText(cause)}); messages to it are dropped until it is back; reconnecting in ${retryMs} ms`,
    );
  }

  /** A dial that did not get as far as a connection (or a handshake that timed out). */
  dialFailed(peer: NodeId, address: string, cause: CloseCause, retryMs: number): void {
    const line = this.limiter.admit(`dial ${peer}`, this.now());
    if (line === null) return;
    const text = causeText(cause);
    this.log.warn(
      { peer, address, reason: text, retryMs, suppressed: line.suppressed },
      `cannot reach cluster peer ${peer} at ${address} (${text}); retrying with backoff${repeats(line.suppressed)}`,
    );
  }

  /**
   * A handshake that failed, either side. Keyed by the remote host (not its port, which
   * changes at every retry) and the reason, so a wrong secret gives one line per peer and
   * interval.
   */
  refused(
    direction: "from" | "to",
    address: string,
    cause: CloseCause & { kind: "handshake" },
  ): void {
    const { outcome } = cause;
    const host = address.slice(0, address.lastIndexOf(":"));
    // Not keyed by direction: a peer with the wrong secret fails both our dial and its own,
    // and one line about it is what the operator needs.
    const line = this.limiter.admit(`refused ${host} ${outcome.reason}`, this.now());
    if (line === null) return;
    const claims = outcome.peer === null ? "" : ` (it says it is ${outcome.peer})`;
    const advice = ADVICE[outcome.reason] ?? "check the peer's log for why";
    const what =
      outcome.reason === "refusedByPeer"
        ? `cluster peer at ${address}${claims} refused ${this.localName}: ${outcome.detail}`
        : `refused cluster connection ${direction} ${address}${claims}: ${outcome.detail}`;
    this.log.warn(
      { address, peer: outcome.peer, reason: outcome.reason, suppressed: line.suppressed },
      `${what}; ${advice}${repeats(line.suppressed)}`,
    );
  }

  /** A connection closed because a frame was damaged or made no sense. */
  corrupt(peer: NodeId | null, address: string, detail: string): void {
    const line = this.limiter.admit(`corrupt ${peer ?? address}`, this.now());
    if (line === null) return;
    const who = peer === null ? address : `${peer} at ${address}`;
    this.log.warn(
      { peer, address, reason: detail, suppressed: line.suppressed },
      `closed cluster connection with ${who}: ${detail}; other connections are unaffected${repeats(line.suppressed)}`,
    );
  }

  /** A TLS handshake failed (an untrusted certificate, or a peer not speaking TLS). */
  tlsRefused(address: string, detail: string): void {
    const host = address.slice(0, address.lastIndexOf(":"));
    const line = this.limiter.admit(`tls ${host} ${detail}`, this.now());
    if (line === null) return;
    this.log.warn(
      { address, reason: detail, suppressed: line.suppressed },
      `TLS handshake failed on cluster connection from ${address} (${detail}); the connection is refused; check that every node's certificate is signed by the cluster's CA${repeats(line.suppressed)}`,
    );
  }

  tooManyHandshakes(address: string, limit: number): void {
    const line = this.limiter.admit("too many handshakes", this.now());
    if (line === null) return;
    this.log.warn(
      { address, limit, suppressed: line.suppressed },
      `refused cluster connection from ${address}: ${limit} connections are already in their handshake${repeats(line.suppressed)}`,
    );
  }

  dropped(peer: NodeId, why: string): void {
    const line = this.limiter.admit(`drop ${peer} ${why}`, this.now());
    if (line === null) return;
    this.log.warn(
      { peer, reason: why, suppressed: line.suppressed },
      `dropping messages to cluster peer ${peer}: ${why}${repeats(line.suppressed)}`,
    );
  }

  /** Frames or messages a proven peer sent that this node sets aside (a bug or a newer peer). */
  ignoredFromPeer(peer: NodeId, what: string): void {
    const line = this.limiter.admit(`ignored ${peer} ${what}`, this.now());
    if (line === null) return;
    this.log.warn(
      { peer, reason: what, suppressed: line.suppressed },
      `ignoring ${what} from cluster peer ${peer}${repeats(line.suppressed)}`,
    );
  }

  listenerError(detail: string): void {
    const line = this.limiter.admit("listener", this.now());
    if (line === null) return;
    this.log.error(
      { reason: detail, suppressed: line.suppressed },
      `the cluster listener failed to accept a connection: ${detail}${repeats(line.suppressed)}`,
    );
  }
}

export function causeText(cause: CloseCause): string {
  switch (cause.kind) {
    case "handshake":
      return cause.outcome.detail;
    case "handshakeTimeout":
      return "no connection and handshake within the time limit";
    case "corruptFrame":
    case "socket":
    case "local":
      return cause.detail;
  }
}

function repeats(suppressed: number): string {
  return suppressed > 0 ? ` (${suppressed} more like this since the last line)` : "";
}
