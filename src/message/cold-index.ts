/** One message's place in a queue, without its content: what a cold queue entry is. */
export interface ColdRecord {
  msgId: number;
  segment: number;
  offset: number;
  /** Length of the stored record (to read it back in one read). */
  length: number;
  bodyBytes: number;
  deliveryCount: number;
  /** Absolute expiry, or Infinity. */
  expiresAtMs: number;
  /** Whether the claim survives a restart (persistent message, durable queue). */
  persistent: boolean;
  arrivedAtMs: number;
  /** Message priority (for priority queues), 0 to 255. */
  priority: number;
}

const CHUNK = 1024;

class Chunk {
  readonly msgId = new Float64Array(CHUNK);
  readonly expiresAtMs = new Float64Array(CHUNK);
  readonly segment = new Uint32Array(CHUNK);
  readonly offset = new Uint32Array(CHUNK);
  readonly length = new Uint32Array(CHUNK);
  readonly bodyBytes = new Uint32Array(CHUNK);
  readonly deliveryCount = new Uint32Array(CHUNK);
  readonly persistent = new Uint8Array(CHUNK);
  readonly arrivedAtMs = new Float64Array(CHUNK);
  readonly priority = new Uint8Array(CHUNK);
}

/**
 * A FIFO of queue entries whose content is on disk, in typed arrays: 50 bytes a
 * message instead of a few hundred for objects and buffers, so a queue holding
 * millions of messages keeps only this in memory (issue 3: a compact index, bodies
 * read back when delivered).
 */
export class ColdIndex {
  private chunks: Chunk[] = [];
  /** Index of the first live record in chunks[0]. */
  private head = 0;
  /** Number of records in the last chunk. */
  private tail = CHUNK;
  private count = 0;
  private byteCount = 0;

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  push(r: ColdRecord): void {
    if (this.tail === CHUNK) {
      this.chunks.push(new Chunk());
      this.tail = 0;
    }
    const c = this.chunks[this.chunks.length - 1]!;
    const i = this.tail++;
    c.msgId[i] = r.msgId;
    c.expiresAtMs[i] = r.expiresAtMs;
    c.segment[i] = r.segment;
    c.offset[i] = r.offset;
    c.length[i] = r.length;
    c.bodyBytes[i] = r.bodyBytes;
    c.deliveryCount[i] = r.deliveryCount;
    c.persistent[i] = r.persistent ? 1 : 0;
    c.arrivedAtMs[i] = r.arrivedAtMs;
    c.priority[i] = r.priority;
    this.count++;
    this.byteCount += r.bodyBytes;
  }

  /** The first record, or undefined when empty. */
  peek(): ColdRecord | undefined {
    if (this.count === 0) return undefined;
    return this.at(this.chunks[0]!, this.head);
  }

  /** The first `n` records (fewer when shorter), left in place. */
  first(n: number): ColdRecord[] {
    const out: ColdRecord[] = [];
    let i = this.head;
    for (const c of this.chunks) {
      const end = c === this.chunks[this.chunks.length - 1] ? this.tail : CHUNK;
      for (; i < end && out.length < n; i++) out.push(this.at(c, i));
      if (out.length === n) break;
      i = 0;
    }
    return out;
  }

  shift(): ColdRecord | undefined {
    if (this.count === 0) return undefined;
    const c = this.chunks[0]!;
    const r = this.at(c, this.head++);
    this.count--;
    this.byteCount -= r.bodyBytes;
    if (this.head === CHUNK || this.count === 0) {
      this.chunks.shift();
      this.head = 0;
      if (this.chunks.length === 0) this.tail = CHUNK;
    }
    return r;
  }

  /** Removes the first `n` records (the ones `first(n)` returned), without building them. */
  drop(n: number): void {
    for (let i = 0; i < n && this.count > 0; i++) {
      const c = this.chunks[0]!;
      this.byteCount -= c.bodyBytes[this.head++]!;
      this.count--;
      if (this.head === CHUNK || this.count === 0) {
        this.chunks.shift();
        this.head = 0;
        if (this.chunks.length === 0) this.tail = CHUNK;
      }
    }
  }

  /** Every record in order (for purge and delete). */
  *drain(): Generator<ColdRecord> {
    for (let r = this.shift(); r; r = this.shift()) yield r;
  }

  private at(c: Chunk, i: number): ColdRecord {
    return {
      msgId: c.msgId[i]!,
      segment: c.segment[i]!,
      offset: c.offset[i]!,
      length: c.length[i]!,
      bodyBytes: c.bodyBytes[i]!,
      deliveryCount: c.deliveryCount[i]!,
      expiresAtMs: c.expiresAtMs[i]!,
      persistent: c.persistent[i] === 1,
      arrivedAtMs: c.arrivedAtMs[i]!,
      priority: c.priority[i]!,
    };
  }
}
