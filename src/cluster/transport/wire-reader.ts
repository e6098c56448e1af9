/**
 * A strict reader for the transport's payloads. Unlike the store's ByteReader it refuses
 * anything that is not exactly what a writer could have produced: a u64 beyond 2^53, a
 * boolean that is neither 0 nor 1, a string that is not valid UTF-8, a count larger than the
 * bytes left could hold. A refusal is a WireError, which the connection turns into a log line
 * and a close; it never reaches Raft as a plausible message.
 */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

export class WireReader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number, what: string): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new WireError(`${what} runs past the end of the payload`);
    }
  }

  u8(what = "a byte"): number {
    this.need(1, what);
    return this.buffer.readUInt8(this.offset++);
  }

  u16(what = "a u16"): number {
    this.need(2, what);
    const value = this.buffer.readUInt16LE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(what = "a u32"): number {
    this.need(4, what);
    const value = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  u64(what = "a u64"): number {
    this.need(8, what);
    const value = this.buffer.readBigUInt64LE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError(`${what} is out of range`);
    return Number(value);
  }

  bool(what = "a flag"): boolean {
    const value = this.u8(what);
    if (value > 1) throw new WireError(`${what} is ${value}, not 0 or 1`);
    return value === 1;
  }

  /** A count of items that each take at least minItemBytes: refused if they cannot fit. */
  count(minItemBytes: number, what = "a count"): number {
    const value = this.u32(what);
    if (value * minItemBytes > this.remaining()) {
      throw new WireError(`${what} of ${value} cannot fit in the bytes left`);
    }
    return value;
  }

  /** Length-prefixed bytes, copied so they do not pin the socket chunk they arrived in. */
  bytes(what = "bytes"): Uint8Array {
    const length = this.u32(what);
    this.need(length, what);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return new Uint8Array(value);
  }

  /** Raw bytes of a fixed length (nonces, proofs), copied. */
  fixed(length: number, what = "bytes"): Buffer {
    this.need(length, what);
    const value = Buffer.from(this.buffer.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }

  string(what = "a string"): string {
    const length = this.u32(what);
    this.need(length, what);
    const view = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return strictUtf8.decode(view);
    } catch {
      throw new WireError(`${what} is not valid UTF-8`);
    }
  }

  remaining(): number {
    return this.buffer.length - this.offset;
  }

  /** Refuses trailing bytes: a payload is exactly what its writer wrote. */
  end(what: string): void {
    if (this.offset !== this.buffer.length) {
      throw new WireError(`${what} has ${this.remaining()} unexpected trailing bytes`);
    }
  }
}
