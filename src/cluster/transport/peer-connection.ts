/**
 * One node-to-node socket, either direction: feeds bytes to a FrameDecoder, runs the
 * handshake, then hands whole frames to the transport. The socket shell around the pure
 * codecs; the transport decides what a frame means and what to do when a connection ends.
 *
 * Before the peer has proved it holds the secret, frames are limited to a few KiB, so an
 * unauthenticated stranger cannot make this node buffer a large payload.
 */
import type { Socket } from "node:net";
import type { NodeId } from "../../raft/index.js";
import type { Frame, FrameDefect } from "./frame-codec.js";
import { describeFrameDefect, encodeFrame, FrameDecoder } from "./frame-codec.js";
import type { HandshakeConfig, HandshakeOutcome, OutFrame } from "./handshake-machine.js";
import { HandshakeMachine } from "./handshake-machine.js";

export const MAX_HANDSHAKE_FRAME_BYTES = 4_096;

/** Why a connection ended, for the log line and the counters. */
export type CloseCause =
  | { readonly kind: "handshake"; readonly outcome: HandshakeOutcome & { ok: false } }
  | { readonly kind: "handshakeTimeout" }
  | { readonly kind: "corruptFrame"; readonly detail: string }
  | { readonly kind: "socket"; readonly detail: string }
  | { readonly kind: "local"; readonly detail: string };

export interface PeerConnectionEvents {
  authenticated(connection: PeerConnection): void;
  frame(connection: PeerConnection, frame: Frame): void;
  closed(connection: PeerConnection, cause: CloseCause): void;
}

export interface PeerConnectionOptions {
  readonly maxFrameBytes: number;
}

export class PeerConnection {
  /** The peer's proven name; null until the handshake succeeds. */
  peer: NodeId | null = null;
  readonly remoteAddress: string;
  bytesIn = 0;
  private readonly decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly handshake: HandshakeMachine;
  private closed = false;

  constructor(
    readonly socket: Socket,
    handshake: HandshakeConfig,
    private readonly options: PeerConnectionOptions,
    private readonly events: PeerConnectionEvents,
    remoteAddress?: string,
  ) {
    this.remoteAddress =
      remoteAddress ?? `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.handshake = new HandshakeMachine(handshake);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5_000);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.close({ kind: "socket", detail: error.message }));
    socket.on("close", () => this.close({ kind: "socket", detail: "the connection closed" }));
    this.writeFrames(this.handshake.start());
  }

  authenticated(): boolean {
    return this.peer !== null;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Bytes handed to the socket and not yet written to the kernel. */
  writableLength(): number {
    return this.socket.writableLength;
  }

  /** Writes already-encoded frames in one go (one writev through cork/uncork). */
  writeBuffers(buffers: readonly Buffer[]): void {
    if (this.closed || buffers.length === 0) return;
    this.socket.cork();
    for (const buffer of buffers) this.socket.write(buffer);
    this.socket.uncork();
  }

  close(cause: CloseCause): void {
    if (this.closed) return;
    this.closed = true;
    // end() lets a refusal frame already written reach the peer; destroy() follows so that a
    // peer that never reads cannot hold the socket open.
    this.socket.end();
    setImmediate(() => this.socket.destroy());
    this.events.closed(this, cause);
  }

  private writeFrames(frames: readonly OutFrame[]): void {
    this.writeBuffers(frames.flatMap((f) => encodeFrame(f.type, f.payload)));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.byteLength;
    this.decoder.push(chunk);
    // One frame at a time: the handshake's last frame raises the size limit for the next.
    while (!this.closed) {
      const decoded = this.decoder.next();
      if (decoded === null) return;
      if (decoded.defect !== undefined) this.onDefect(decoded.defect);
      else this.onFrame(decoded.frame);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.peer !== null) {
      this.events.frame(this, frame);
      return;
    }
    const step = this.handshake.receive(frame);
    this.writeFrames(step.send);
    const outcome = step.outcome;
    if (outcome === null) return;
    if (!outcome.ok) {
      this.close({ kind: "handshake", outcome });
      return;
    }
    this.peer = outcome.peer;
    this.decoder.setMaxPayloadBytes(this.options.maxFrameBytes);
    this.events.authenticated(this);
  }

  private onDefect(defect: FrameDefect): void {
    this.close({ kind: "corruptFrame", detail: describeFrameDefect(defect) });
  }
}
