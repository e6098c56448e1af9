/**
 * Request and reply between nodes over the transport's application frames: a forwarded
 * metadata command and its answer, or a question to the leader ("what is your commit
 * index?"). Raft messages need no answers of their own (the protocol retransmits), but these
 * do: a caller waits on them, so each request carries an id, its answer the same id, and a
 * request that gets no answer in time fails rather than waits forever.
 *
 * Frames: REQUEST = u8 kind | u32 id | payload; REPLY = u8 status | u32 id | payload (status
 * 0: the handler's answer; 1: the handler failed or this kind is unknown there, payload its
 * UTF-8 message). Best effort like the transport: a frame that cannot be queued fails the
 * request at once, as "not sent".
 */
import type { NodeId } from "../../raft/index.js";
import type { TcpPeerTransport } from "./tcp-peer-transport.js";
import { FIRST_APPLICATION_FRAME_TYPE } from "./tcp-peer-transport.js";

export const REQUEST_FRAME = FIRST_APPLICATION_FRAME_TYPE;
export const REPLY_FRAME = FIRST_APPLICATION_FRAME_TYPE + 1;

/** How long a request waits for its answer by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** The answer could not come: `sent` says whether the peer may have acted on it. */
export class PeerRequestError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
    this.name = "PeerRequestError";
  }
}

export type RequestHandler = (from: NodeId, payload: Buffer) => Promise<Uint8Array>;

/** The transport as this needs it (a TcpPeerTransport, or a test's double). */
export type FrameTransport = Pick<TcpPeerTransport, "onFrame" | "sendFrame">;

interface Pending {
  readonly to: NodeId;
  readonly resolve: (payload: Buffer) => void;
  readonly reject: (error: PeerRequestError) => void;
  readonly timer: NodeJS.Timeout;
}

export class PeerRequests {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<number, RequestHandler>();
  private closed = false;

  constructor(private readonly transport: FrameTransport) {
    transport.onFrame(REQUEST_FRAME, (from, payload) => this.onRequest(from, payload));
    transport.onFrame(REPLY_FRAME, (_from, payload) => this.onReply(payload));
  }

  /** Answers requests of this kind (1-255). */
  serve(kind: number, handler: RequestHandler): void {
    this.handlers.set(kind, handler);
  }

  request(
    to: NodeId,
    kind: number,
    payload: Uint8Array,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<Buffer> {
    if (this.closed) return Promise.reject(new PeerRequestError("the transport is closed", false));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const frame = Buffer.allocUnsafe(5 + payload.byteLength);
    frame.writeUInt8(kind, 0);
    frame.writeUInt32BE(id, 1);
    frame.set(payload, 5);
    if (!this.transport.sendFrame(to, REQUEST_FRAME, frame)) {
      return Promise.reject(new PeerRequestError(`no link to ${to}`, false));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PeerRequestError(`no answer from ${to} within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.pending.set(id, { to, resolve, reject, timer });
    });
  }

  /** The link to a peer went down: what waits on it cannot be answered on it any more. */
  peerLost(peer: NodeId): void {
    for (const [id, p] of this.pending) {
      if (p.to !== peer) continue;
      this.settle(id)?.reject(new PeerRequestError(`the link to ${peer} was lost`, true));
    }
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) {
      this.settle(id)?.reject(new PeerRequestError("the transport is closing", true));
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  private onRequest(from: NodeId, frame: Buffer): void {
    if (frame.byteLength < 5) return;
    const kind = frame.readUInt8(0);
    const id = frame.readUInt32BE(1);
    const handler = this.handlers.get(kind);
    const answer = (status: number, payload: Uint8Array) => {
      if (this.closed) return;
      const reply = Buffer.allocUnsafe(5 + payload.byteLength);
      reply.writeUInt8(status, 0);
      reply.writeUInt32BE(id, 1);
      reply.set(payload, 5);
      this.transport.sendFrame(from, REPLY_FRAME, reply);
    };
    if (handler === undefined) {
      answer(1, Buffer.from(`request kind ${kind} is not known here`));
      return;
    }
    // A handler that throws before its promise (a request it cannot decode) is answered
    // with the error like one that rejects: never an exception out of the transport.
    let pending: Promise<Uint8Array>;
    try {
      pending = handler(from, frame.subarray(5));
    } catch (e) {
      answer(1, Buffer.from((e as Error).message));
      return;
    }
    pending.then(
      (payload) => answer(0, payload),
      (e: Error) => answer(1, Buffer.from(e.message)),
    );
  }

  private onReply(frame: Buffer): void {
    if (frame.byteLength < 5) return;
    const status = frame.readUInt8(0);
    const p = this.settle(frame.readUInt32BE(1));
    if (p === undefined) return; // timed out meanwhile
    const payload = Buffer.from(frame.subarray(5));
    if (status === 0) p.resolve(payload);
    else p.reject(new PeerRequestError(`${p.to} could not answer: ${payload.toString()}`, true));
  }
}
