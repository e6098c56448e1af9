/**
 * The cluster port: accepts the links peers dial to this node, runs the handshake as the
 * listener (only names of known peers are accepted), then hands each frame to the transport.
 * With TLS the peer must present a certificate signed by the cluster's CA before the
 * handshake even starts (requestCert + rejectUnauthorized).
 */
import net from "node:net";
import tls from "node:tls";
import type { NodeId } from "../../raft/index.js";
import type { Frame } from "./frame-codec.js";
import type { HandshakeConfig } from "./handshake-machine.js";
import type { CloseCause, PeerConnectionOptions } from "./peer-connection.js";
import { PeerConnection } from "./peer-connection.js";
import type { PeerAddress } from "./peer-link.js";
import type { TransportLog } from "./transport-log.js";
import type { NodeTlsOptions } from "./transport-options.js";

export interface ListenerContext {
  readonly tls: NodeTlsOptions | null;
  readonly connection: PeerConnectionOptions;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly log: TransportLog;
  handshake(): HandshakeConfig;
  frame(peer: NodeId, frame: Frame, connection: PeerConnection): void;
  /** A proven connection from this peer closed: what it carried may be lost. */
  lost(peer: NodeId): void;
}

export class InboundListener {
  private readonly server: net.Server;
  private readonly connections = new Set<PeerConnection>();
  private readonly timers = new Map<PeerConnection, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly ctx: ListenerContext) {
    if (ctx.tls === null) {
      this.server = net.createServer((socket) => this.accept(socket));
      return;
    }
    const { cert, key, ca } = ctx.tls;
    // rejectUnauthorized is false so that the verdict on the peer's certificate is ours to
    // log with its address (tls.Server would drop the socket, address and all, first).
    const server = tls.createServer(
      {
        cert,
        key,
        ca,
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: ctx.handshakeTimeoutMs,
      },
      (socket) => this.acceptSecure(socket),
    );
    server.on("tlsClientError", (error) => {
      // The socket is gone by now and its address with it.
      this.ctx.log.tlsRefused("an unknown address", error.message);
    });
    this.server = server;
  }

  /** Listens; resolves with the bound address (the port, when 0 was asked for). */
  listen(address: PeerAddress): Promise<PeerAddress> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const where = `${address.host}:${address.port}`;
        const failure = new Error(`cannot listen for cluster peers on ${where}: ${error.message}`);
        (failure as NodeJS.ErrnoException).code = error.code;
        reject(failure);
      };
      this.server.once("error", onError);
      this.server.listen(address.port, address.host, () => {
        this.server.off("error", onError);
        // Later accept errors (EMFILE) must not crash the node: log them, keep listening.
        this.server.on("error", (error) => this.ctx.log.listenerError(error.message));
        const bound = this.server.address() as net.AddressInfo;
        resolve({ host: address.host, port: bound.port });
      });
    });
  }

  /** Closes every connection from this peer (it was removed from the cluster). */
  disconnect(peer: NodeId): void {
    for (const connection of this.connections) {
      if (connection.peer === peer) {
        connection.close({ kind: "local", detail: `${peer} was removed from the cluster` });
      }
    }
  }

  /** Connections that have completed the handshake, by peer. */
  authenticatedPeers(): NodeId[] {
    return [...this.connections].flatMap((c) => (c.peer === null ? [] : [c.peer]));
  }

  close(): Promise<void> {
    this.closed = true;
    for (const connection of [...this.connections]) {
      connection.close({ kind: "local", detail: "this node's transport closed" });
    }
    return new Promise((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
  }

  private acceptSecure(socket: tls.TLSSocket): void {
    if (socket.authorized) {
      this.accept(socket);
      return;
    }
    const address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const why = socket.authorizationError?.message ?? String(socket.authorizationError);
    this.ctx.log.tlsRefused(address, `its certificate is not trusted: ${why}`);
    socket.destroy();
  }

  private accept(socket: net.Socket): void {
    const address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (this.timers.size >= this.ctx.maxPendingHandshakes) {
      this.ctx.log.tooManyHandshakes(address, this.ctx.maxPendingHandshakes);
      socket.destroy();
      return;
    }
    this.startHandshake(socket, address);
  }

  private startHandshake(socket: net.Socket, address: string): void {
    const connection = new PeerConnection(
      socket,
      this.ctx.handshake(),
      this.ctx.connection,
      {
        authenticated: (c) => this.onAuthenticated(c),
        frame: (c, frame) => this.ctx.frame(c.peer!, frame, c),
        closed: (c, cause) => this.onClosed(c, cause),
      },
      address,
    );
    this.connections.add(connection);
    this.timers.set(
      connection,
      setTimeout(() => connection.close({ kind: "handshakeTimeout" }), this.ctx.handshakeTimeoutMs),
    );
  }

  /**
   * A peer dials this node on one link at a time, so an older connection from the same peer
   * is stale (the peer restarted, or the network dropped it without a reset): close it now
   * rather than wait for TCP to notice.
   */
  private onAuthenticated(connection: PeerConnection): void {
    this.clearTimer(connection);
    for (const other of this.connections) {
      if (other !== connection && other.peer === connection.peer) {
        other.close({ kind: "local", detail: `${connection.peer} connected again` });
      }
    }
  }

  private clearTimer(connection: PeerConnection): void {
    const timer = this.timers.get(connection);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(connection);
  }

  /** Whether a proven connection from this peer is open (it can send to this node). */
  hasPeer(peer: NodeId): boolean {
    for (const c of this.connections) if (c.peer === peer && !c.isClosed()) return true;
    return false;
  }

  private onClosed(connection: PeerConnection, cause: CloseCause): void {
    this.clearTimer(connection);
    this.connections.delete(connection);
    if (connection.peer !== null) this.ctx.lost(connection.peer);
    if (this.closed) return;
    const address = connection.remoteAddress;
    switch (cause.kind) {
      case "handshake":
        this.ctx.log.refused("from", address, cause);
        return;
      case "corruptFrame":
        this.ctx.log.corrupt(connection.peer, address, cause.detail);
        return;
      case "handshakeTimeout":
        this.ctx.log.corrupt(null, address, "no handshake within the time limit");
        return;
      default:
        return;
    }
  }
}
