import { CorruptRecordError, type LogPosition } from "./log-position.js";
import { unframeRecord } from "./record-framing.js";
import type { StoreFs } from "./store-fs.js";

export interface ReadRecord {
  readonly type: number;
  readonly payload: Buffer;
}

/** Where a segment log's records are now, for reading them back. */
export interface RecordLocator {
  /**
   * The bytes of a record not in a file yet (held in memory), or the descriptor of the file
   * it is in. Throws CorruptRecordError when it is nowhere (its segment was deleted).
   */
  locate(pos: LogPosition): { readonly held: Buffer } | { readonly fd: number };
  /** Whether the whole record is in a file, so it can be read in one run with its neighbours. */
  inFile(pos: LogPosition): boolean;
}

/** The most one read of adjacent records takes. */
const MAX_RUN_BYTES = 1024 * 1024;

/**
 * Reads a record back; checks its checksum. Throws CorruptRecordError when it can never be
 * read, or the file system's error (EMFILE, EIO) when it cannot be read now.
 */
export function readRecord(fs: StoreFs, where: RecordLocator, pos: LogPosition): ReadRecord {
  const found = where.locate(pos);
  if ("held" in found) return checkRecord(found.held, pos);
  const record = Buffer.allocUnsafe(pos.length);
  readFully(fs, found.fd, record, pos.offset, pos);
  return checkRecord(record, pos);
}

/**
 * Reads several records in order. Records that sit next to each other in one written
 * segment (a queue's page-outs usually do) are fetched with a single read of up to 1 MiB,
 * then each is checked by its CRC.
 */
export function readRecords(
  fs: StoreFs,
  where: RecordLocator,
  positions: readonly LogPosition[],
): ReadRecord[] {
  const out: ReadRecord[] = [];
  let i = 0;
  while (i < positions.length) {
    const first = positions[i]!;
    let j = i + 1;
    let end = first.offset + first.length;
    while (
      where.inFile(first) &&
      j < positions.length &&
      positions[j]!.segment === first.segment &&
      positions[j]!.offset === end &&
      end + positions[j]!.length - first.offset <= MAX_RUN_BYTES &&
      where.inFile(positions[j]!)
    ) {
      end += positions[j]!.length;
      j++;
    }
    if (j === i + 1) {
      out.push(readRecord(fs, where, first));
    } else {
      const found = where.locate(first) as { fd: number };
      const run = Buffer.allocUnsafe(end - first.offset);
      readFully(fs, found.fd, run, first.offset, first);
      for (let k = i; k < j; k++) {
        const p = positions[k]!;
        const at = p.offset - first.offset;
        out.push(checkRecord(run.subarray(at, at + p.length), p));
      }
    }
    i = j;
  }
  return out;
}

function checkRecord(record: Buffer, pos: LogPosition): ReadRecord {
  const found = unframeRecord(record);
  if (!found) throw new CorruptRecordError(pos, "checksum mismatch");
  return found;
}

/** Reads the bytes of `pos` (and any after it, to fill `buf`); a file that ends first lost them. */
function readFully(fs: StoreFs, fd: number, buf: Buffer, position: number, pos: LogPosition): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new CorruptRecordError(pos, `unexpected end of file at ${position + done}`);
    done += n;
  }
}
