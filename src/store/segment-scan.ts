import { RECORD_HEADER_BYTES, validRecordEnd } from "./record-framing.js";

/**
 * Whether a candidate record found while resynchronising could be real: cheap
 * structural checks that run before its CRC, so scanning past damage stays cheap.
 * Called with the type alone first (no payload), then with the payload.
 */
export type Plausible = (type: number, payload?: Buffer) => boolean;

/** Any type from 1 to 15: a zero-filled page is never mistaken for a record. */
export const anyRecordType: Plausible = (type) => type >= 1 && type <= 15;

/**
 * A damaged stretch of a segment that recovery skipped. `type` and `payload` are
 * what its first header says, when that header was readable at all: a damaged
 * PUBLISH record may still name its queues.
 */
export interface DamagedRegion {
  readonly offset: number;
  readonly bytes: number;
  readonly type: number | undefined;
  readonly payload: Buffer | undefined;
}

export interface SegmentScan {
  /** Damaged stretches with valid records after them (corruption, not a torn write). */
  readonly damaged: DamagedRegion[];
  /** Where the valid records end: the file length, or where a bad tail starts. */
  readonly end: number;
  /** Bad or incomplete bytes at the end with nothing valid after them, if any. */
  readonly tail: DamagedRegion | undefined;
}

/**
 * Resynchronising costs one CRC per plausible candidate; past this much CRC work
 * in one segment the rest of it is treated as damaged (a bound on start time for
 * a pathological file, never reached by real damage).
 */
const RESYNC_CRC_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * Scans one segment's bytes and visits every valid record in order. A bad record
 * (checksum, length) is skipped and the scan resynchronises on the next valid
 * record, so one bad byte costs one record, not the rest of the segment; each
 * skipped stretch goes to `onDamage` in log order, between the visits around it.
 * What is bad with nothing valid after it is a bad tail: `end` says where it
 * starts (in the last segment that is a write torn by a crash).
 */
export function scanSegment(
  data: Buffer,
  magic: Buffer,
  visit: (type: number, payload: Buffer, offset: number, length: number) => void,
  plausible: Plausible = anyRecordType,
  onDamage: (region: DamagedRegion) => void = () => {},
): SegmentScan {
  const found: DamagedRegion[] = [];
  const damaged = {
    push(region: DamagedRegion) {
      found.push(region);
      onDamage(region);
    },
  };
  if (data.length <= magic.length) return finish(data, found, 0, magic);
  const budget = { bytes: RESYNC_CRC_BUDGET_BYTES };
  let at = magic.length;
  if (!data.subarray(0, magic.length).equals(magic)) {
    // A damaged magic: the records after it may still be whole.
    const next = resync(data, magic.length - 1, plausible, budget);
    if (next < 0) return finish(data, found, 0, magic);
    damaged.push({ offset: 0, bytes: next, type: undefined, payload: undefined });
    at = next;
  }
  while (at < data.length) {
    const end = validRecordEnd(data, at);
    if (end > 0) {
      visit(data[at + 8]!, data.subarray(at + RECORD_HEADER_BYTES, end), at, end - at);
      at = end;
      continue;
    }
    const next = resync(data, at, plausible, budget);
    if (next < 0) return finish(data, found, at, magic);
    damaged.push(describe(data, at, next, magic));
    at = next;
  }
  return finish(data, found, at, magic);
}

function finish(data: Buffer, damaged: DamagedRegion[], end: number, magic: Buffer): SegmentScan {
  const tail = end < data.length ? describe(data, end, data.length, magic) : undefined;
  return { damaged, end, tail };
}

/**
 * The offset of the next valid record after a bad one at `bad`, or -1. First the
 * likely case: only the payload is damaged, so the bad record's own length leads
 * to a valid record. Otherwise every later offset is tried whose header has a
 * plausible type and length (and, for the CRC to be worth computing, a plausible
 * payload and a plausible next header).
 */
function resync(
  data: Buffer,
  bad: number,
  plausible: Plausible,
  budget: { bytes: number },
): number {
  if (bad + RECORD_HEADER_BYTES <= data.length) {
    const skip = bad + RECORD_HEADER_BYTES + data.readUInt32LE(bad);
    if (skip > bad + RECORD_HEADER_BYTES && skip < data.length && validRecordEnd(data, skip) > 0)
      return skip;
  }
  for (let p = bad + 1; p + RECORD_HEADER_BYTES <= data.length; p++) {
    const type = data[p + 8]!;
    if (!plausible(type)) continue;
    const end = p + RECORD_HEADER_BYTES + data.readUInt32LE(p);
    if (end > data.length) continue;
    if (end < data.length && !nextHeaderPlausible(data, end, plausible)) continue;
    if (!plausible(type, data.subarray(p + RECORD_HEADER_BYTES, end))) continue;
    budget.bytes -= end - p;
    if (budget.bytes < 0) return -1;
    if (validRecordEnd(data, p) > 0) return p;
  }
  return -1;
}

function nextHeaderPlausible(data: Buffer, at: number, plausible: Plausible): boolean {
  if (at + RECORD_HEADER_BYTES > data.length) return true; // a torn tail may follow
  return (
    plausible(data[at + 8]!) && at + RECORD_HEADER_BYTES + data.readUInt32LE(at) <= data.length
  );
}

function describe(data: Buffer, at: number, next: number, magic: Buffer): DamagedRegion {
  if (at < magic.length || at + RECORD_HEADER_BYTES > next) {
    return { offset: at, bytes: next - at, type: undefined, payload: undefined };
  }
  const claimed = at + RECORD_HEADER_BYTES + data.readUInt32LE(at);
  return {
    offset: at,
    bytes: next - at,
    type: data[at + 8],
    payload: data.subarray(at + RECORD_HEADER_BYTES, Math.min(claimed, next)),
  };
}
