/**
 * The records appended to a segment log's active segment and not yet in its file, whole and
 * in offset order from the file's end. They stay here until a write takes them, so a failed
 * write loses none: each stays readable (by its offset) and is written again, at the offset
 * already handed out, when a retry succeeds.
 */
export class PendingRecords {
  private records: Buffer[] = [];
  private byOffset = new Map<number, Buffer>();
  private total = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.records.length;
  }

  /** Holds a record that goes at `offset` (the file's end plus the bytes held before it). */
  push(record: Buffer, offset: number): void {
    this.records.push(record);
    this.byOffset.set(offset, record);
    this.total += record.length;
  }

  /** The record held for `offset`, if any. */
  at(offset: number): Buffer | undefined {
    return this.byOffset.get(offset);
  }

  /**
   * The records the next write takes: all of them, or whole records up to `maxBytes` (at
   * least one), so no single write stalls the event loop.
   */
  nextBatch(maxBytes: number): { batch: Buffer[]; count: number; bytes: number } {
    if (this.total <= maxBytes)
      return { batch: this.records, count: this.records.length, bytes: this.total };
    let count = 0;
    let bytes = 0;
    while (
      count < this.records.length &&
      (count === 0 || bytes + this.records[count]!.length <= maxBytes)
    ) {
      bytes += this.records[count]!.length;
      count++;
    }
    return { batch: this.records.slice(0, count), count, bytes };
  }

  /** The first `count` records (`bytes` long), which went to the file at `fileOffset`, are written. */
  written(count: number, bytes: number, fileOffset: number): void {
    if (count === this.records.length) {
      this.byOffset = new Map();
      this.records = [];
    } else {
      let offset = fileOffset;
      for (let i = 0; i < count; i++) {
        this.byOffset.delete(offset);
        offset += this.records[i]!.length;
      }
      this.records = this.records.slice(count);
    }
    this.total -= bytes;
  }

  /** How many of the first records fit whole in `writtenBytes` (after a short write), and their size. */
  wholeRecordsIn(writtenBytes: number): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    while (count < this.records.length && bytes + this.records[count]!.length <= writtenBytes) {
      bytes += this.records[count]!.length;
      count++;
    }
    return { count, bytes };
  }

  /** Forgets every record (the log is abandoned, as in a crash). */
  clear(): void {
    this.records = [];
    this.byOffset = new Map();
    this.total = 0;
  }
}

/** The buffers' bytes after the first `skip`. */
export function unwritten(buffers: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
