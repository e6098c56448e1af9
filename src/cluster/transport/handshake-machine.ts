/**
 * The handshake that opens every node-to-node connection, as a pure state machine: frames in,
 * frames to send and at the end an outcome out. The socket shell feeds it.
 *
 * Both sides send a hello (protocol version, node name, a fresh random nonce) at once. On the
 * peer's hello each side checks the version and the name, then sends a proof: HMAC-SHA256,
 * keyed by the cluster secret, over a label, the prover's role, both names and both nonces.
 * On the peer's proof each side computes what the peer must have sent and compares in
 * constant time. The secret itself never crosses the wire, a proof is useless for any other
 * connection (it covers both fresh nonces), and a proof cannot be reflected back to its
 * sender (it covers the prover's role). This is the challenge-response the Erlang
 * distribution uses with its cookie, made mutual: a dialer never sends Raft messages to a
 * listener that has not proved it holds the secret either.
 *
 * A dialer knows whom it dialled and refuses any other name (an address that now points at a
 * different node); a listener accepts only names of known peers.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { NodeId } from "../../raft/index.js";
import type { Frame } from "./frame-codec.js";
import { FrameType } from "./frame-codec.js";
import type { RefusalReason } from "./handshake-codec.js";
import {
  decodeHello,
  decodeProof,
  decodeRefusal,
  encodeHello,
  encodeProof,
  encodeRefusal,
  NONCE_BYTES,
} from "./handshake-codec.js";

/** Bumped when the frames or payloads change incompatibly; peers must agree exactly. */
export const PROTOCOL_VERSION = 1;
const PROOF_LABEL = "warren cluster handshake v1";

export type HandshakeRole = "dialer" | "listener";

export interface HandshakeConfig {
  readonly role: HandshakeRole;
  readonly localName: NodeId;
  readonly secret: Uint8Array;
  /** NONCE_BYTES fresh random bytes (from the transport's RandomSource). */
  readonly nonce: Uint8Array;
  /** Dialer: the node it meant to reach. */
  readonly expectedPeer?: NodeId;
  /** Listener: whether a node name belongs to the cluster. */
  readonly acceptsPeer?: (name: NodeId) => boolean;
  /** For tests of version skew. */
  readonly version?: number;
}

export type HandshakeOutcome =
  | { readonly ok: true; readonly peer: NodeId }
  | {
      readonly ok: false;
      readonly reason: RefusalReason | "refusedByPeer";
      /** A sentence for the log: what was wrong. */
      readonly detail: string;
      /** The name the peer gave, if it got that far. */
      readonly peer: NodeId | null;
    };

export interface OutFrame {
  readonly type: number;
  readonly payload: Buffer;
}

export interface HandshakeStep {
  readonly send: readonly OutFrame[];
  /** Set once the handshake is over, either way. */
  readonly outcome: HandshakeOutcome | null;
}

type State = "awaitHello" | "awaitProof" | "done";

export class HandshakeMachine {
  private state: State = "awaitHello";
  private peerName: NodeId | null = null;
  private expectedProof: Buffer | null = null;

  constructor(private readonly config: HandshakeConfig) {
    if (config.nonce.byteLength !== NONCE_BYTES) throw new Error("a nonce is 32 bytes");
  }

  /** The hello to send as soon as the connection is open. */
  start(): OutFrame[] {
    const version = this.config.version ?? PROTOCOL_VERSION;
    const hello = { version, nodeName: this.config.localName, nonce: this.config.nonce };
    return [{ type: FrameType.hello, payload: encodeHello(hello) }];
  }

  finished(): boolean {
    return this.state === "done";
  }

  receive(frame: Frame): HandshakeStep {
    if (this.state === "done") return { send: [], outcome: null };
    try {
      if (frame.type === FrameType.refuse) return this.refusedByPeer(frame.payload);
      if (this.state === "awaitHello" && frame.type === FrameType.hello) {
        return this.onHello(frame.payload);
      }
      if (this.state === "awaitProof" && frame.type === FrameType.proof) {
        return this.onProof(frame.payload);
      }
      return this.refuse("protocolError", `a frame of type ${frame.type} during the handshake`);
    } catch (error) {
      return this.refuse(
        "protocolError",
        `a malformed handshake frame: ${(error as Error).message}`,
      );
    }
  }

  private onHello(payload: Buffer): HandshakeStep {
    const hello = decodeHello(payload);
    this.peerName = hello.nodeName;
    const version = this.config.version ?? PROTOCOL_VERSION;
    if (hello.version !== version) {
      return this.refuse(
        "versionMismatch",
        `it speaks cluster protocol version ${hello.version}, this node ${version}`,
      );
    }
    const nameProblem = this.nameProblem(hello.nodeName);
    if (nameProblem !== null) return this.refuse("unexpectedPeer", nameProblem);
    const [dialer, listener] =
      this.config.role === "dialer"
        ? [this.config.localName, hello.nodeName]
        : [hello.nodeName, this.config.localName];
    const [dialerNonce, listenerNonce] =
      this.config.role === "dialer"
        ? [this.config.nonce, hello.nonce]
        : [hello.nonce, this.config.nonce];
    const peerRole: HandshakeRole = this.config.role === "dialer" ? "listener" : "dialer";
    const parts = { dialer, listener, dialerNonce, listenerNonce };
    this.expectedProof = proofOf(this.config.secret, peerRole, parts);
    this.state = "awaitProof";
    const ours = proofOf(this.config.secret, this.config.role, parts);
    return { send: [{ type: FrameType.proof, payload: encodeProof(ours) }], outcome: null };
  }

  private nameProblem(name: NodeId): string | null {
    if (name === this.config.localName) return `it is this node itself (${name})`;
    if (this.config.role === "dialer") {
      const expected = this.config.expectedPeer;
      return expected === undefined || name === expected
        ? null
        : `it calls itself ${name}, but this node dialled it as ${expected}`;
    }
    const accepts = this.config.acceptsPeer ?? (() => true);
    return accepts(name) ? null : `${name} is not a known member of this cluster`;
  }

  private onProof(payload: Buffer): HandshakeStep {
    const proof = decodeProof(payload);
    // Constant time, so the comparison leaks nothing about where the proofs differ.
    if (!timingSafeEqual(proof, this.expectedProof!)) {
      return this.refuse("badSecret", "it does not hold this cluster's secret");
    }
    this.state = "done";
    return { send: [], outcome: { ok: true, peer: this.peerName! } };
  }

  private refusedByPeer(payload: Buffer): HandshakeStep {
    const refusal = decodeRefusal(payload);
    this.state = "done";
    const detail = `it refused this node (${refusal.reason}): ${refusal.text}`;
    return {
      send: [],
      outcome: { ok: false, reason: "refusedByPeer", detail, peer: this.peerName },
    };
  }

  private refuse(reason: RefusalReason, detail: string): HandshakeStep {
    this.state = "done";
    const text = refusalText(reason, this.config.localName);
    return {
      send: [{ type: FrameType.refuse, payload: encodeRefusal({ reason, text }) }],
      outcome: { ok: false, reason, detail, peer: this.peerName },
    };
  }
}

/** What the refused peer is told: enough for its operator, nothing about our secret. */
function refusalText(reason: RefusalReason, localName: NodeId): string {
  switch (reason) {
    case "badSecret":
      return `${localName} holds a different cluster secret`;
    case "unexpectedPeer":
      return `${localName} does not expect this node name`;
    case "versionMismatch":
      return `${localName} speaks cluster protocol version ${PROTOCOL_VERSION}`;
    case "protocolError":
      return `${localName} could not follow the handshake`;
  }
}

interface ProofParts {
  readonly dialer: NodeId;
  readonly listener: NodeId;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

/** HMAC-SHA256 over length-prefixed fields, so no two field lists hash the same bytes. */
export function proofOf(secret: Uint8Array, role: HandshakeRole, parts: ProofParts): Buffer {
  const hmac = createHmac("sha256", secret);
  for (const field of [
    PROOF_LABEL,
    role,
    parts.dialer,
    parts.listener,
    parts.dialerNonce,
    parts.listenerNonce,
  ]) {
    const bytes = typeof field === "string" ? Buffer.from(field, "utf8") : field;
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32LE(bytes.byteLength, 0);
    hmac.update(length).update(bytes);
  }
  return hmac.digest();
}
