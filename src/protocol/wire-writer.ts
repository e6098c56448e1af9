/**
 * A growable output buffer with the AMQP primitive encoders. Used for frames
 * (one per connection, flushed once per event-loop turn) and for stand-alone
 * encodings such as a content header's property list.
 */
const EMPTY = Buffer.alloc(0);

export class Writer {
  buf: Buffer;
  pos = 0;
  /** What ensure() allocates when the writer holds no buffer (after release()). */
  private sizeWhenEmpty = 64;

  constructor(initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, this.sizeWhenEmpty);
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Skips n bytes to be filled in later (a length prefix); returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** The bytes written so far, and a fresh buffer for what comes next. */
  take(nextSize = 4096): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(nextSize, 64));
    this.pos = 0;
    return out;
  }

  /**
   * The bytes written so far; the writer then holds no buffer until the next write,
   * which allocates `nextSize` bytes (or more). An idle connection's writer costs nothing.
   */
  release(nextSize: number): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = EMPTY;
    this.sizeWhenEmpty = Math.max(nextSize, 64);
    this.pos = 0;
    return out;
  }

  octet(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos++);
  }

  short(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  long(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** An unsigned 64-bit integer from a number (exact below 2^53). */
  longlong(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 0x1_0000_0000);
    this.buf.writeUInt32BE(hi >>> 0, this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
  }

  uint64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float(v: number): void {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** A short string: at most 255 bytes of UTF-8 (AMQP 0-9-1 §4.2.5.3). */
  shortstr(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; check the real length after writing.
    this.ensure(1 + s.length * 3);
    const n = this.buf.write(s, this.pos + 1, "utf8");
    if (n > 255) throw new RangeError(`short string longer than 255 bytes (${n})`);
    this.buf[this.pos] = n;
    this.pos += 1 + n;
  }

  longstr(v: Buffer | string): void {
    if (typeof v === "string") {
      this.ensure(4 + v.length * 3);
      const n = this.buf.write(v, this.pos + 4, "utf8");
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4 + n;
      return;
    }
    this.ensure(4 + v.length);
    this.buf.writeUInt32BE(v.length, this.pos);
    v.copy(this.buf, this.pos + 4);
    this.pos += 4 + v.length;
  }

  bytes(v: Buffer): void {
    this.ensure(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
  }
}
