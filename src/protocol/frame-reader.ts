import { connectionError } from "./amqp-error.js";
import { describeFrame } from "./frame-description.js";
import { FRAME_END, PROTOCOL_HEADER, ReplyCode } from "./generated/constants.js";

/** Bytes of a frame header: type (1), channel (2), payload size (4). */
export const FRAME_HEADER_SIZE = 7;
/** Header plus the frame-end octet: what a frame costs beyond its payload. */
export const FRAME_OVERHEAD = 8;

export interface FrameSink {
  /** A whole frame. The payload is a view valid only during the call: copy what you keep. */
  onFrame(type: number, channel: number, payload: Buffer): void;
  /**
   * Asked after each frame: true makes the reader keep the rest of its input until
   * `resume()`, so a connection that did a turn's worth of work yields the event loop
   * in the middle of a chunk instead of after it.
   */
  shouldPause?(): boolean;
}

/**
 * Turns socket chunks into frames without copying, except for a frame that
 * spans chunks (those bytes are joined once, when the whole frame is there).
 * A byte-level state machine with no I/O: the runtime pushes chunks in, frames
 * come out through the sink, and a malformed frame throws an AmqpError.
 *
 * It starts by expecting the 8-byte protocol header; `onHeader` reports whether
 * the header was the one we speak (AMQP 0-9-1 §4.2.2).
 */
export class FrameReader {
  /** The largest frame accepted, header and end octet included (negotiated frame_max). */
  frameMax: number;
  private awaitingHeader = true;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private stopped = false;
  /** Set when the sink asked to pause: input is kept, not parsed, until resume(). */
  private paused = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly onHeader: (valid: boolean, header: Buffer) => void,
    frameMax: number,
  ) {
    this.frameMax = frameMax;
  }

  /** Stops delivering frames (the connection is closing and ignores what follows). */
  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingLength = 0;
  }

  /** Whether input is waiting for resume(). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Parses what was kept when the sink asked to pause (it may ask again). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.pendingLength === 0) return;
    const kept = this.pending;
    this.pending = [];
    this.pendingLength = 0;
    for (let i = 0; i < kept.length; i++) {
      if (this.paused) {
        // Paused again part-way: keep the chunks not yet looked at, in order.
        for (let j = i; j < kept.length; j++) this.hold(kept[j]!);
        return;
      }
      this.push(kept[i]!);
    }
  }

  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.paused) {
      this.hold(chunk);
      return;
    }
    let buf = chunk;
    if (this.pendingLength > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
      if (this.pendingLength < this.bytesNeeded()) return;
      buf = Buffer.concat(this.pending, this.pendingLength);
      this.pending = [];
      this.pendingLength = 0;
    }
    let pos = 0;
    if (this.awaitingHeader) {
      if (buf.length < PROTOCOL_HEADER.length) return this.keep(buf, 0);
      this.awaitingHeader = false;
      const header = buf.subarray(0, PROTOCOL_HEADER.length);
      const valid = header.equals(PROTOCOL_HEADER);
      this.onHeader(valid, header);
      if (!valid) return this.stop();
      pos = PROTOCOL_HEADER.length;
    }
    while (!this.stopped) {
      const available = buf.length - pos;
      if (available < FRAME_HEADER_SIZE) break;
      const size = buf.readUInt32BE(pos + 3);
      this.checkSize(buf[pos]!, size);
      if (available < size + FRAME_OVERHEAD) break;
      const endAt = pos + FRAME_HEADER_SIZE + size;
      if (buf[endAt] !== FRAME_END) {
        const payload = buf.subarray(endAt - size, endAt);
        throw connectionError(
          ReplyCode.FRAME_ERROR,
          `${describeFrame(buf[pos]!, payload)}: {invalid_frame_end_marker,${buf[endAt]}}`,
        );
      }
      const type = buf[pos]!;
      const channel = buf.readUInt16BE(pos + 1);
      pos = endAt + 1;
      this.sink.onFrame(type, channel, buf.subarray(endAt - size, endAt));
      if (this.sink.shouldPause?.() && !this.stopped) {
        this.paused = true;
        break;
      }
    }
    if (!this.stopped && pos < buf.length) this.keep(buf, pos);
  }

  private hold(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
  }

  private keep(buf: Buffer, from: number): void {
    this.pending = [from === 0 ? buf : buf.subarray(from)];
    this.pendingLength = buf.length - from;
  }

  /** How many buffered bytes the next step needs before parsing can make progress. */
  private bytesNeeded(): number {
    if (this.awaitingHeader) return PROTOCOL_HEADER.length;
    if (this.pendingLength < FRAME_HEADER_SIZE) return FRAME_HEADER_SIZE;
    const head = this.peek(FRAME_HEADER_SIZE);
    const size = head.readUInt32BE(3);
    this.checkSize(head[0]!, size);
    return size + FRAME_OVERHEAD;
  }

  private peek(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.pending, this.pendingLength).subarray(0, n);
  }

  /**
   * Rejects an oversized frame from its header, before waiting for its payload.
   * Like RabbitMQ, a payload up to frame_max itself is accepted (8 bytes of slack for
   * clients that forget the frame overhead); the text quotes frame_max - 8.
   */
  private checkSize(type: number, size: number): void {
    if (size > this.frameMax) {
      throw connectionError(
        ReplyCode.FRAME_ERROR,
        `type ${type}, all octets = <<>>: {frame_too_large,${size},${this.frameMax - FRAME_OVERHEAD}}`,
      );
    }
  }
}
