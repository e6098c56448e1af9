/**
 * This node's outbound link to one peer: it dials, runs the handshake as the dialer, and once
 * the peer has proved itself carries every frame this node sends to that peer. When the link
 * fails it dials again after an exponential backoff with jitter (backoff.ts). Frames of one
 * event-loop turn wait in a queue bounded in bytes and go out in one write at the turn's end.
 *
 * Each node sends on the link it dialled and receives on the links its peers dialled, so two
 * nodes that dial each other at the same moment need no tie-break: every pair has one
 * connection per direction.
 */
import type { Socket } from "node:net";
import type { NodeId } from "../../raft/index.js";
import type { BackoffOptions } from "./backoff.js";
import { backoffDelayMs } from "./backoff.js";
import type { Frame } from "./frame-codec.js";
import { encodeFrame, FrameType } from "./frame-codec.js";
import type { HandshakeConfig } from "./handshake-machine.js";
import type { CloseCause, PeerConnectionOptions } from "./peer-connection.js";
import { PeerConnection } from "./peer-connection.js";
import type { PeerCounters } from "./peer-stats.js";
import { newPeerCounters } from "./peer-stats.js";
import type { RandomSource } from "./random-source.js";
import type { TransportLog } from "./transport-log.js";

const EMPTY = Buffer.alloc(0);

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export function formatAddress({ host, port }: PeerAddress): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What a link needs from its transport. */
export interface LinkContext {
  /** Opens a socket (TCP or TLS) and calls onOpen once it is ready for the handshake. */
  openSocket(address: PeerAddress, onOpen: () => void): Socket;
  handshake(expectedPeer: NodeId): HandshakeConfig;
  readonly connection: PeerConnectionOptions;
  readonly backoff: BackoffOptions;
  readonly dialTimeoutMs: number;
  /** A link that hears nothing (not even a pong) for this long is closed and redialled. */
  readonly idleTimeoutMs: number;
  readonly random: RandomSource;
  readonly log: TransportLog;
  now(): number;
  /** A frame the peer sent on this link (peers normally send on their own links). */
  frame(peer: NodeId, frame: Frame, connection: PeerConnection): void;
  /** The proven connection of this link closed: what was sent on it may be lost. */
  lost(peer: NodeId): void;
}

export class PeerLink {
  readonly counters: PeerCounters = newPeerCounters();
  private connection: PeerConnection | null = null;
  private socket: Socket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private dialTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** When the current connection last delivered a frame. */
  private lastHeardMs = 0;
  /** Consecutive failed dials since the link was last up. */
  private failures = 0;
  private everUp = false;
  private stopped = false;
  private queue: Buffer[] = [];
  private queuedMessages = 0;
  private queuedBytes = 0;

  constructor(
    readonly peer: NodeId,
    public address: PeerAddress,
    private readonly ctx: LinkContext,
  ) {}

  start(): void {
    this.dial();
  }

  /** Closes the link for good: no more dials, the queue is dropped. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.dropQueue();
    this.connection?.close({ kind: "local", detail: "the transport closed the link" });
    this.socket?.destroy();
    this.connection = null;
    this.socket = null;
  }

  isUp(): boolean {
    return this.connection?.authenticated() === true && !this.connection.isClosed();
  }

  /** Bytes waiting here plus bytes the socket has not written yet. */
  pendingBytes(): number {
    return this.queuedBytes + (this.connection?.writableLength() ?? 0);
  }

  /** Queues one encoded frame of `messages` items; the caller checked the bound. */
  enqueue(buffers: readonly Buffer[], bytes: number, messages: number): void {
    this.queue.push(...buffers);
    this.queuedBytes += bytes;
    this.queuedMessages += messages;
  }

  /** Writes everything queued this turn in one write. */
  flush(): void {
    if (this.queue.length === 0) return;
    if (!this.isUp()) {
      this.dropQueue();
      return;
    }
    this.connection!.writeBuffers(this.queue);
    this.counters.writes++;
    this.counters.bytesOut += this.queuedBytes;
    this.counters.messagesOut += this.queuedMessages;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedMessages = 0;
  }

  private dropQueue(): void {
    this.counters.dropped.lostWithLink += this.queuedMessages;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedMessages = 0;
  }

  private dial(): void {
    if (this.stopped) return;
    this.retryTimer = null;
    let socket: Socket;
    try {
      socket = this.ctx.openSocket(this.address, () => this.onOpen(socket));
    } catch (error) {
      // net.connect throws at once for some bad addresses; a dial must never throw.
      this.failed({ kind: "socket", detail: (error as Error).message });
      return;
    }
    this.socket = socket;
    // Until the socket is open, its failures are this dial's (a stale socket's are not).
    socket.on("error", (error) => {
      if (socket === this.socket) this.failed({ kind: "socket", detail: error.message });
    });
    socket.on("close", () => {
      if (socket === this.socket && this.connection === null) {
        this.failed({ kind: "socket", detail: "the connection closed" });
      }
    });
    // One limit for connect, TLS and the handshake: a peer that swallows SYNs or never
    // answers the hello must not hold the link for the kernel's two-minute connect timeout.
    this.dialTimer = setTimeout(() => {
      this.dialTimer = null;
      if (this.isUp()) return;
      if (this.connection !== null) this.connection.close({ kind: "handshakeTimeout" });
      else this.failed({ kind: "handshakeTimeout" });
    }, this.ctx.dialTimeoutMs);
  }

  private onOpen(socket: Socket): void {
    if (this.stopped || socket !== this.socket) return;
    socket.removeAllListeners("error");
    socket.removeAllListeners("close");
    this.connection = new PeerConnection(
      socket,
      this.ctx.handshake(this.peer),
      this.ctx.connection,
      {
        authenticated: () => this.onUp(),
        frame: (connection, frame) => {
          this.lastHeardMs = this.ctx.now();
          if (frame.type !== FrameType.pong) this.ctx.frame(this.peer, frame, connection);
        },
        closed: (connection, cause) => this.onClosed(connection, cause),
      },
    );
  }

  private onUp(): void {
    if (this.dialTimer !== null) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    this.counters.connectedSinceMs = this.ctx.now();
    if (this.everUp) this.counters.reconnects++;
    this.everUp = true;
    this.ctx.log.linkUp(this.peer, formatAddress(this.address), this.failures);
    this.failures = 0;
    this.startPings();
  }

  /**
   * TCP alone notices a peer that vanished without a reset (a host that lost power, a
   * partition that drops packets) only after minutes of retransmissions. The link pings a few
   * times per idle timeout; the peer answers on the same connection; silence closes the link,
   * which drops what waits for it and redials.
   */
  private startPings(): void {
    this.lastHeardMs = this.ctx.now();
    const everyMs = Math.max(Math.floor(this.ctx.idleTimeoutMs / 4), 1);
    let lastTickMs = this.ctx.now();
    this.pingTimer = setInterval(() => {
      const connection = this.connection;
      if (connection === null || !this.isUp()) return;
      const nowMs = this.ctx.now();
      // A tick that comes late means this process was paused (GC, a stall), not the peer:
      // the pause is not the peer's silence, so it is excused.
      const lateMs = nowMs - lastTickMs - everyMs;
      lastTickMs = nowMs;
      if (lateMs > everyMs) this.lastHeardMs += lateMs;
      const silentMs = nowMs - this.lastHeardMs;
      if (silentMs >= this.ctx.idleTimeoutMs) {
        connection.close({ kind: "socket", detail: `no answer from the peer in ${silentMs} ms` });
        return;
      }
      connection.writeBuffers(encodeFrame(FrameType.ping, EMPTY));
    }, everyMs);
  }

  private stopPings(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private onClosed(connection: PeerConnection, cause: CloseCause): void {
    if (connection !== this.connection) return;
    this.stopPings();
    this.connection = null;
    if (connection.authenticated()) this.ctx.lost(this.peer);
    if (this.stopped) return;
    if (connection.authenticated()) {
      this.counters.connectedSinceMs = null;
      this.dropQueue();
      const retryMs = this.scheduleRetry();
      if (cause.kind === "corruptFrame") {
        this.ctx.log.corrupt(this.peer, formatAddress(this.address), cause.detail);
      }
      this.ctx.log.linkLost(this.peer, formatAddress(this.address), cause, retryMs);
      return;
    }
    this.failed(cause);
  }

  /** A dial that never came up: count it, log it (rate-limited), try again later. */
  private failed(cause: CloseCause): void {
    if (this.stopped || this.retryTimer !== null) return;
    this.socket?.destroy();
    this.socket = null;
    this.connection = null;
    this.failures++;
    this.counters.failedDials++;
    const retryMs = this.scheduleRetry();
    const address = formatAddress(this.address);
    if (cause.kind === "handshake") this.ctx.log.refused("to", address, cause);
    else if (cause.kind === "corruptFrame") this.ctx.log.corrupt(this.peer, address, cause.detail);
    else this.ctx.log.dialFailed(this.peer, address, cause, retryMs);
  }

  private scheduleRetry(): number {
    if (this.dialTimer !== null) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    const delayMs = backoffDelayMs(
      this.ctx.backoff,
      Math.max(this.failures, 1),
      this.ctx.random.fraction(),
    );
    this.retryTimer = setTimeout(() => this.dial(), delayMs);
    return delayMs;
  }

  private clearTimers(): void {
    this.stopPings();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.dialTimer !== null) clearTimeout(this.dialTimer);
    this.retryTimer = null;
    this.dialTimer = null;
  }

  /** Dials again now, at a new address (the cluster changed where the peer lives). */
  readdress(address: PeerAddress): void {
    this.address = address;
    this.clearTimers();
    const connection = this.connection;
    this.connection = null;
    connection?.close({ kind: "local", detail: "the peer's address changed" });
    if (connection?.authenticated()) this.ctx.lost(this.peer);
    this.socket?.destroy();
    this.socket = null;
    this.dropQueue();
    this.dial();
  }
}
