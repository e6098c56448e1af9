/**
 * The settings of the node-to-node transport, each with a default (DESIGN §3.3: a limit on
 * everything). The cluster code supplies the node's name, the secret, the listen address and
 * the peers; the rest are tunables.
 */
import type { Log } from "../../log.js";
import { silentLog } from "../../log.js";
import type { NodeId } from "../../raft/index.js";
import type { BackoffOptions } from "./backoff.js";
import { DEFAULT_BACKOFF } from "./backoff.js";
import type { PeerAddress } from "./peer-link.js";
import type { RandomSource } from "./random-source.js";
import { cryptoRandom } from "./random-source.js";
import { DEFAULT_REPEAT_LOG_INTERVAL_MS } from "./transport-log.js";

/** PEM contents (or paths already read) for TLS between nodes. */
export interface NodeTlsOptions {
  /** This node's certificate: presented to peers both when it dials and when it listens. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The CA that signed every node's certificate; a peer's certificate must chain to it. */
  readonly ca: string | Buffer;
}

export interface TcpPeerTransportOptions {
  readonly nodeId: NodeId;
  /** The cluster secret (RabbitMQ's Erlang cookie); never sent, only proved. */
  readonly secret: string | Uint8Array;
  /** Where to listen for peers; port 0 picks a free port (start() says which). */
  readonly listen: PeerAddress;
  /** The peers to dial, by name; addPeer/removePeer/setPeers change it later. */
  readonly peers?: ReadonlyMap<NodeId, PeerAddress>;
  /** When set, every node-to-node connection is TLS with peer verification both ways. */
  readonly tls?: NodeTlsOptions;
  readonly log?: Log;
  /** Nonces and backoff jitter; the operating system's generator unless a test seeds one. */
  readonly random?: RandomSource;
  /**
   * The largest frame payload sent or accepted. [16 MiB] Checksumming and decoding a frame
   * holds the event loop (about 40 ms for 16 MiB here), so it stays well under 100 ms; a
   * single message larger than this (a snapshot) is dropped and logged.
   */
  readonly maxFrameBytes?: number;
  /** Bytes queued for one peer (ours plus the socket's) beyond which sends drop. [64 MiB] */
  readonly maxQueuedBytesPerPeer?: number;
  /** Redial delays. [100 ms doubling to 5 s, with jitter] */
  readonly backoff?: BackoffOptions;
  /** Connect, TLS and handshake must complete within this. [5 s] */
  readonly handshakeTimeoutMs?: number;
  /**
   * A link that hears nothing from its peer for this long (it pings four times as often) is
   * closed and redialled. [10 s] Keep it above the longest pause a healthy node may take.
   */
  readonly idleTimeoutMs?: number;
  /** Inbound connections in their handshake at once; more are refused. [64] */
  readonly maxPendingHandshakes?: number;
  /** A repeated warning (bad secret, unreachable peer) is logged at most this often. [60 s] */
  readonly repeatLogIntervalMs?: number;
  /** The wall clock, for connectedSinceMs and the log limiter. */
  readonly now?: () => number;
}

export interface ResolvedTransportOptions {
  readonly nodeId: NodeId;
  readonly secret: Uint8Array;
  readonly listen: PeerAddress;
  readonly tls: NodeTlsOptions | null;
  readonly log: Log;
  readonly random: RandomSource;
  readonly maxFrameBytes: number;
  readonly maxQueuedBytesPerPeer: number;
  readonly backoff: BackoffOptions;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly repeatLogIntervalMs: number;
  readonly now: () => number;
}

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 64 * 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;

export function resolveTransportOptions(
  options: TcpPeerTransportOptions,
): ResolvedTransportOptions {
  const secret =
    typeof options.secret === "string" ? Buffer.from(options.secret, "utf8") : options.secret;
  if (secret.byteLength === 0) throw new Error("the cluster secret is empty");
  if (options.nodeId.length === 0) throw new Error("the node name is empty");
  return {
    nodeId: options.nodeId,
    secret,
    listen: options.listen,
    tls: options.tls ?? null,
    log: options.log ?? silentLog,
    random: options.random ?? cryptoRandom,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxQueuedBytesPerPeer: options.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES_PER_PEER,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxPendingHandshakes: options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
    repeatLogIntervalMs: options.repeatLogIntervalMs ?? DEFAULT_REPEAT_LOG_INTERVAL_MS,
    now: options.now ?? Date.now,
  };
}
