/** The node-to-node transport's public API. See docs/CLUSTER.md, "Node-to-node transport". */

export type { BackoffOptions } from "./backoff.js";
export { backoffDelayMs, DEFAULT_BACKOFF } from "./backoff.js";
export type { PeerAddress } from "./peer-link.js";
export { formatAddress } from "./peer-link.js";
export type { PeerDrops, PeerStats } from "./peer-stats.js";
export { totalDropped } from "./peer-stats.js";
export type { RandomSource } from "./random-source.js";
export { cryptoRandom } from "./random-source.js";
export type { FrameHandler } from "./tcp-peer-transport.js";
export { FIRST_APPLICATION_FRAME_TYPE, TcpPeerTransport } from "./tcp-peer-transport.js";
export type { NodeTlsOptions, TcpPeerTransportOptions } from "./transport-options.js";
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_QUEUED_BYTES_PER_PEER,
} from "./transport-options.js";
