/**
 * What the transport counts per peer, for metrics and `warrenctl cluster_status` later. Bytes
 * are frame bytes (headers included) as handed to or taken from the socket; messages are Raft
 * messages (or other frames' items) in either direction.
 */
import type { NodeId } from "../../raft/index.js";

export interface PeerDrops {
  /** Sent while the link to the peer was not up (down, dialling, in its handshake). */
  readonly notConnected: number;
  /** Sent while the peer's queue held maxQueuedBytesPerPeer: a slow or stuck peer. */
  readonly queueFull: number;
  /** One message larger than a frame may be. */
  readonly tooLarge: number;
  /** A message the codec could not encode (a bug: logged). */
  readonly unencodable: number;
  /** Queued, then the link went down before the write. */
  readonly lostWithLink: number;
}

export interface PeerStats {
  readonly peer: NodeId;
  readonly address: string;
  /** When the current link came up (ms since the epoch), null while it is down. */
  readonly connectedSinceMs: number | null;
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly messagesOut: number;
  readonly messagesIn: number;
  /** Socket writes: one per event-loop turn with something to send, however many sends. */
  readonly writes: number;
  /** Bytes waiting to be written to this peer now (ours plus the socket's). */
  readonly queuedBytes: number;
  /** Messages dropped on the way out, by cause. */
  readonly dropped: PeerDrops;
  /** Times the link came back after it had been up. */
  readonly reconnects: number;
  /** Dials that failed (refused, timed out, handshake refused). */
  readonly failedDials: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type PeerCounters = Mutable<
  Omit<PeerStats, "dropped" | "peer" | "address" | "queuedBytes">
> & {
  dropped: Mutable<PeerDrops>;
};

export function newPeerCounters(): PeerCounters {
  return {
    connectedSinceMs: null,
    bytesOut: 0,
    bytesIn: 0,
    messagesOut: 0,
    messagesIn: 0,
    writes: 0,
    dropped: { notConnected: 0, queueFull: 0, tooLarge: 0, unencodable: 0, lostWithLink: 0 },
    reconnects: 0,
    failedDials: 0,
  };
}

export function totalDropped(dropped: PeerDrops): number {
  return (
    dropped.notConnected +
    dropped.queueFull +
    dropped.tooLarge +
    dropped.unencodable +
    dropped.lostWithLink
  );
}
