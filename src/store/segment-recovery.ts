import { join } from "node:path";
import type { DamageVisitor, RecoveryReport, Visitor } from "./log-position.js";
import { type Plausible, scanSegment } from "./segment-scan.js";
import type { StoreFs } from "./store-fs.js";

const SUFFIX = ".wlog";

export function segmentPath(dir: string, n: number): string {
  return join(dir, `${String(n).padStart(12, "0")}${SUFFIX}`);
}

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
  plausible: Plausible,
  visit: Visitor,
  onDamage: DamageVisitor,
): { segments: RecoveredSegment[]; report: RecoveryReport } {
  const numbers = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => Number.parseInt(f, 10))
    .filter((n) => Number.isFinite(n))
    .sort((a, b) => a - b);
  const report: RecoveryReport = {
    segments: numbers.length,
    records: 0,
    truncatedBytes: 0,
    corruptSegments: [],
    damaged: [],
    skippedBytes: 0,
  };
  const segments = numbers.map((n, i) =>
    recoverSegment(fs, dir, n, i === numbers.length - 1, { plausible, visit, onDamage, report }),
  );
  return { segments, report };
}

interface Scan {
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
  { plausible, visit, onDamage, report }: Scan,
): RecoveredSegment {
  const path = segmentPath(dir, n);
  const fd = fs.openSync(path, isLast ? "r+" : "r");
  try {
    const fileSize = fs.fstatSize(fd);
    const data = Buffer.allocUnsafe(fileSize);
    readFully(fs, fd, data);
    const scan = scanSegment(
      data,
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
      fs.fdatasyncSync(fd);
      report.truncatedBytes += scan.tail.bytes;
      size = scan.end;
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
