import { isUtf8 } from "node:buffer";
import { connectionError } from "./amqp-error.js";
import { decodeFieldArray, decodeFieldTable, type FieldTable } from "./field-table.js";
import { ReplyCode } from "./generated/constants.js";

/**
 * A cursor over one frame payload. Every read checks bounds, so a truncated or
 * lying payload becomes a FRAME_ERROR for the connection, never a crash or a read
 * past the frame into the next one.
 */
export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) {
      throw connectionError(ReplyCode.FRAME_ERROR, "frame payload is shorter than its fields");
    }
  }

  octet(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  short(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  long(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An unsigned 64-bit integer as a number; exact below 2^53 (delivery tags never get there). */
  longlong(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.need(4);
    const v = this.buf.readFloatBE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * A short string. Its bytes must be UTF-8: decoding invalid bytes would turn
   * each into a 3-byte replacement character, and the string could no longer be
   * written back as a short string (RabbitMQ refuses them too: "Malformed UTF-8").
   */
  shortstr(): string {
    const len = this.octet();
    this.need(len);
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    const buf = this.buf;
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        if (!isUtf8(buf.subarray(start, end))) {
          throw connectionError(ReplyCode.FRAME_ERROR, "Malformed UTF-8 in shortstr");
        }
        return buf.toString("utf8", start, end);
      }
    }
    return buf.toString("latin1", start, end);
  }

  /** A long string as bytes (it may hold binary data, such as a SASL response). */
  longstr(): Buffer {
    const len = this.long();
    this.need(len);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  table(): FieldTable {
    const len = this.long();
    this.need(len);
    const end = this.pos + len;
    const t = decodeFieldTable(this.buf, this.pos, end);
    this.pos = end;
    return t;
  }

  array() {
    const len = this.long();
    this.need(len);
    const end = this.pos + len;
    const a = decodeFieldArray(this.buf, this.pos, end);
    this.pos = end;
    return a;
  }
}
