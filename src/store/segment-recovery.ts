import type { DamageVisitor, RecoveryReport, Visitor } from "./log-position.js";
import { type SegmentFormat, segmentNumbersIn, segmentPath } from "./segment-format.js";
import { type Plausible, scanSegment } from "./segment-scan.js";
import type { StoreFs } from "./store-fs.js";

/** A segment found at recovery: its number, file and valid size. */
export interface RecoveredSegment {
  readonly n: number;
  readonly path: string;
  size: number;
}

/**
 * Scans every segment in a log directory in order, one file open at a time:
 * verifies each record's checksum, skips damaged records (resynchronising on
 * the next valid one), and cuts a torn tail off the last segment (nothing past
 * it was ever synced). Damage anywhere else is reported, never truncated away.
 */
export function recoverSegments(
  fs: StoreFs,
  dir: string,
  format: SegmentFormat,
  plausible: Plausible,
  visit: Visitor,
  onDamage: DamageVisitor,
): { segments: RecoveredSegment[]; report: RecoveryReport } {
  const numbers = segmentNumbersIn(fs, dir, format);
  const report: RecoveryReport = {
    segments: numbers.length,
    records: 0,
    truncatedBytes: 0,
    corruptSegments: [],
    damaged: [],
    skippedBytes: 0,
  };
  const segments = numbers.map((n, i) =>
    recoverSegment(fs, dir, n, i === numbers.length - 1, {
      format,
      plausible,
      visit,
      onDamage,
      report,
    }),
  );
  return { segments, report };
}

interface Scan {
  readonly format: SegmentFormat;
  readonly plausible: Plausible;
  readonly visit: Visitor;
  readonly onDamage: DamageVisitor;
  readonly report: RecoveryReport;
}

function recoverSegment(
  fs: StoreFs,
  dir: string,
  n: number,
  isLast: boolean,
  { format, plausible, visit, onDamage, report }: Scan,
): RecoveredSegment {
  const path = segmentPath(dir, n, format);
  const fd = fs.openSync(path, isLast ? "r+" : "r");
  try {
    const fileSize = fs.fstatSize(fd);
    const data = Buffer.allocUnsafe(fileSize);
    readFully(fs, fd, data);
    const scan = scanSegment(
      data,
      format.magic,
      (type, payload, offset, length) => {
        report.records++;
        visit(type, payload, { segment: n, offset, length });
      },
      plausible,
      (d) => onDamage({ ...d, segment: n }),
    );
    const damaged = scan.damaged.map((d) => ({ ...d, segment: n }));
    let size = fileSize;
    if (scan.tail && isLast) {
      // A torn tail: the crash cut the last write short. Nothing past it was ever synced.
      fs.ftruncateSync(fd, scan.end);
      report.truncatedBytes += scan.tail.bytes;
      size = scan.end;
    }
    if (isLast) {
      // A process crash leaves written records in the page cache, where this scan found
      // them; they are synced before a newer segment exists, so a power loss later can
      // never tear a segment that is not the last (which would read as damage).
      fs.fdatasyncSync(fd);
    } else if (scan.tail) {
      // A finished segment was fdatasync'ed whole before the next began: a bad end is damage.
      damaged.push({ ...scan.tail, segment: n });
      onDamage({ ...scan.tail, segment: n });
    }
    if (damaged.length > 0) report.corruptSegments.push(n);
    for (const d of damaged) {
      report.damaged.push(d);
      report.skippedBytes += d.bytes;
    }
    return { n, path, size };
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fs: StoreFs, fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, done);
    if (n === 0) throw new Error(`unexpected end of file at ${done}`);
    done += n;
  }
}
