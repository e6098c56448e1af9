/**
 * Writes the transport's payloads into one growing buffer: many messages of a batch share it,
 * and their boundaries are offsets, so packing them into frames copies nothing. A u64 is two
 * u32 writes (a BigInt per integer made encoding several times slower), and a message that
 * fails half-way is cut off with truncate(). Little-endian, as WireReader reads.
 */
const TWO_TO_32 = 2 ** 32;

export class WireWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes = 1_024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  private room(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  /** Bytes written so far: a message's end, or where truncate() returns to. */
  position(): number {
    return this.offset;
  }

  truncate(position: number): void {
    this.offset = position;
  }

  u8(value: number): this {
    this.room(1);
    this.buffer[this.offset++] = value;
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.buffer.writeUInt32LE(value, this.offset);
    this.offset += 4;
    return this;
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a u64: ${value}`);
    this.room(8);
    this.buffer.writeUInt32LE(value % TWO_TO_32, this.offset);
    this.buffer.writeUInt32LE(Math.floor(value / TWO_TO_32), this.offset + 4);
    this.offset += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u32(value.byteLength);
    this.room(value.byteLength);
    this.buffer.set(value, this.offset);
    this.offset += value.byteLength;
    return this;
  }

  string(value: string): this {
    const length = Buffer.byteLength(value, "utf8");
    this.u32(length);
    this.room(length);
    this.offset += this.buffer.write(value, this.offset, length, "utf8");
    return this;
  }

  /** The bytes written, as a view (the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}
