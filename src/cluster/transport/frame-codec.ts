/**
 * The frames of the node-to-node transport. Pure: bytes in, frames or a refusal out.
 *
 *   u32 payloadLength | u8 type | u32 crc32c(payload) | u32 crc32c(the 9 bytes before) | payload
 *
 * All integers little-endian, as the store's records. The header has its own checksum so a
 * corrupted length is caught before we wait for (or allocate) a payload that was never sent;
 * the payload checksum catches every other damage. TCP's own 16-bit checksum misses errors
 * that a NIC, a middlebox or a memory fault introduce; RabbitMQ's distribution relies on it,
 * Warren does not. A frame over the decoder's limit is refused from its header alone.
 */
import { crc32c } from "../../store/crc32c.js";

export const FRAME_HEADER_BYTES = 13;

/**
 * Frame types. 1-15 are the handshake's (handshake-codec.ts), 16 carries Raft messages of many
 * groups, 17 and 18 are the link's liveness check (empty payloads); 32 and above are left for
 * the other kinds of traffic a cluster needs (classic-queue forwarding), registered with
 * TcpPeerTransport.onFrame.
 */
export const FrameType = {
  hello: 1,
  proof: 2,
  refuse: 3,
  raftBatch: 16,
  ping: 17,
  pong: 18,
} as const;

export interface Frame {
  readonly type: number;
  /** Owned by the frame: a copy when the frame spanned chunks, else a view of one chunk. */
  readonly payload: Buffer;
}

export type FrameDefect =
  | { readonly kind: "headerChecksum" }
  | { readonly kind: "payloadChecksum"; readonly type: number; readonly bytes: number }
  | {
      readonly kind: "tooLarge";
      readonly type: number;
      readonly bytes: number;
      readonly max: number;
    };

/** Says what was wrong with a frame, for the log line that closes its connection. */
export function describeFrameDefect(defect: FrameDefect): string {
  switch (defect.kind) {
    case "headerChecksum":
      return "a frame header failed its checksum";
    case "payloadChecksum":
      return `a frame of type ${defect.type} (${defect.bytes} bytes) failed its checksum`;
    case "tooLarge":
      return `a frame of type ${defect.type} announced ${defect.bytes} bytes, over the limit of ${defect.max}`;
  }
}

/**
 * The header and the payload of one frame, to be written together (one writev). The payload
 * may come in parts (a batch's count, then its messages' bytes), checksummed without a copy.
 */
export function encodeFrame(type: number, payload: Uint8Array | readonly Uint8Array[]): Buffer[] {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new Error(`bad frame type ${type}`);
  const parts = (payload instanceof Uint8Array ? [payload] : payload).map(asBuffer);
  let length = 0;
  let crc = 0;
  for (const part of parts) {
    length += part.byteLength;
    crc = crc32c(part, crc);
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32LE(crc, 5);
  header.writeUInt32LE(crc32c(header, 0, 0, 9), 9);
  return [header, ...parts];
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The bytes a frame with this payload takes on the wire. */
export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

export type Decoded =
  | { readonly frame: Frame; readonly defect?: undefined }
  | { readonly frame?: undefined; readonly defect: FrameDefect };

/**
 * Turns a byte stream into frames. Keeps the chunks it was given and a read offset rather than
 * concatenating every chunk (DESIGN §7); a payload is copied only when it spans chunks. Frames
 * come out one at a time, so a frame can change the limit for the next (the handshake raises
 * it). After a defect the stream cannot be resynchronised (a length is no longer trusted), so
 * the decoder refuses everything that follows and the connection must close.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Read offset into chunks[0]. */
  private offset = 0;
  private buffered = 0;
  private defect: FrameDefect | null = null;

  /** maxPayloadBytes may be raised later (after a handshake proves the peer). */
  constructor(private maxPayloadBytes: number) {}

  setMaxPayloadBytes(bytes: number): void {
    this.maxPayloadBytes = bytes;
  }

  /** Bytes received and not yet part of a whole frame. */
  bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (this.defect !== null || chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  /** The next whole frame, a defect (final), or null until more bytes arrive. */
  next(): Decoded | null {
    if (this.defect !== null) return { defect: this.defect };
    if (this.buffered < FRAME_HEADER_BYTES) return null;
    const header = this.peek(FRAME_HEADER_BYTES);
    if (crc32c(header, 0, 0, 9) !== header.readUInt32LE(9)) {
      return this.fail({ kind: "headerChecksum" });
    }
    const length = header.readUInt32LE(0);
    const type = header.readUInt8(4);
    if (length > this.maxPayloadBytes) {
      return this.fail({ kind: "tooLarge", type, bytes: length, max: this.maxPayloadBytes });
    }
    if (this.buffered < FRAME_HEADER_BYTES + length) return null;
    const payloadCrc = header.readUInt32LE(5);
    this.skip(FRAME_HEADER_BYTES);
    const payload = this.take(length);
    if (crc32c(payload) !== payloadCrc) {
      return this.fail({ kind: "payloadChecksum", type, bytes: length });
    }
    return { frame: { type, payload } };
  }

  private fail(defect: FrameDefect): Decoded {
    this.defect = defect;
    this.chunks = [];
    this.buffered = 0;
    this.offset = 0;
    return { defect };
  }

  /** The next bytes without consuming them (a copy only if they span chunks). */
  private peek(bytes: number): Buffer {
    if (bytes === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.byteLength - this.offset >= bytes) {
      return first.subarray(this.offset, this.offset + bytes);
    }
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    let start = this.offset;
    for (const chunk of this.chunks) {
      filled += chunk.copy(out, filled, start, Math.min(chunk.byteLength, start + bytes - filled));
      start = 0;
      if (filled === bytes) break;
    }
    return out;
  }

  private take(bytes: number): Buffer {
    const out = this.peek(bytes);
    this.skip(bytes);
    return out;
  }

  private skip(bytes: number): void {
    this.buffered -= bytes;
    let left = bytes;
    while (left > 0) {
      const first = this.chunks[0]!;
      const available = first.byteLength - this.offset;
      if (available > left) {
        this.offset += left;
        return;
      }
      left -= available;
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
