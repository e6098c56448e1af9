/**
 * Little-endian binary writing and reading for storage records. Integers up to 2^53 are
 * stored as u64 so log indexes and terms never wrap.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ByteWriter {
  private chunks: Buffer[] = [];
  private current = Buffer.allocUnsafe(256);
  private offset = 0;

  private room(bytes: number): void {
    if (this.offset + bytes <= this.current.length) return;
    this.chunks.push(this.current.subarray(0, this.offset));
    this.current = Buffer.allocUnsafe(Math.max(256, bytes));
    this.offset = 0;
  }

  u8(value: number): this {
    this.room(1);
    this.current.writeUInt8(value, this.offset);
    this.offset += 1;
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.current.writeUInt32LE(value, this.offset);
    this.offset += 4;
    return this;
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a u64: ${value}`);
    this.room(8);
    this.current.writeBigUInt64LE(BigInt(value), this.offset);
    this.offset += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.byteLength);
    this.room(value.byteLength);
    this.current.set(value, this.offset);
    this.offset += value.byteLength;
    return this;
  }

  string(value: string): this {
    return this.bytes(encoder.encode(value));
  }

  finish(): Buffer {
    this.chunks.push(this.current.subarray(0, this.offset));
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    this.current = Buffer.allocUnsafe(256);
    this.offset = 0;
    return out;
  }
}

export class ByteReader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) throw new Error("record is truncated");
  }

  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }

  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  u64(): number {
    this.need(8);
    const value = Number(this.buffer.readBigUInt64LE(this.offset));
    this.offset += 8;
    return value;
  }

  bytes(): Buffer {
    const length = this.u32();
    this.need(length);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  string(): string {
    return decoder.decode(this.bytes());
  }

  done(): boolean {
    return this.offset === this.buffer.length;
  }
}
