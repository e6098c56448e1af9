/**
 * The payloads of the handshake frames (frame-codec.ts FrameType hello, proof, refuse). Pure.
 *
 *   hello:  u16 protocol version | string node name | 32-byte nonce
 *   proof:  32-byte HMAC-SHA256 (handshake-machine.ts says over what)
 *   refuse: u8 reason code | string text an operator can read
 */
import { ByteWriter } from "../../store/byte-codec.js";
import { WireError, WireReader } from "./wire-reader.js";

export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

export interface Hello {
  readonly version: number;
  readonly nodeName: string;
  readonly nonce: Uint8Array;
}

/** Why a handshake failed; the same codes travel in a refuse frame. */
export type RefusalReason = "badSecret" | "unexpectedPeer" | "versionMismatch" | "protocolError";

const REASON_CODES: Record<RefusalReason, number> = {
  badSecret: 1,
  unexpectedPeer: 2,
  versionMismatch: 3,
  protocolError: 4,
};
const REASONS_BY_CODE = new Map(
  Object.entries(REASON_CODES).map(([reason, code]) => [code, reason as RefusalReason]),
);

export interface Refusal {
  readonly reason: RefusalReason;
  readonly text: string;
}

export function encodeHello(hello: Hello): Buffer {
  const w = new ByteWriter().string(hello.nodeName).finish();
  const out = Buffer.allocUnsafe(2 + w.length + NONCE_BYTES);
  out.writeUInt16LE(hello.version, 0);
  w.copy(out, 2);
  out.set(hello.nonce.subarray(0, NONCE_BYTES), 2 + w.length);
  return out;
}

export function decodeHello(payload: Buffer): Hello {
  const r = new WireReader(payload);
  const version = r.u16("the protocol version");
  const nodeName = r.string("the node name");
  if (nodeName.length === 0) throw new WireError("the node name is empty");
  const nonce = r.fixed(NONCE_BYTES, "the nonce");
  r.end("a hello");
  return { version, nodeName, nonce };
}

export function encodeProof(proof: Uint8Array): Buffer {
  return Buffer.from(proof);
}

export function decodeProof(payload: Buffer): Buffer {
  const r = new WireReader(payload);
  const proof = r.fixed(PROOF_BYTES, "the proof");
  r.end("a proof");
  return proof;
}

export function encodeRefusal({ reason, text }: Refusal): Buffer {
  return new ByteWriter().u8(REASON_CODES[reason]).string(text).finish();
}

export function decodeRefusal(payload: Buffer): Refusal {
  const r = new WireReader(payload);
  const code = r.u8("the refusal reason");
  const reason = REASONS_BY_CODE.get(code);
  if (reason === undefined) throw new WireError(`unknown refusal reason ${code}`);
  const text = r.string("the refusal text");
  r.end("a refusal");
  return { reason, text };
}
