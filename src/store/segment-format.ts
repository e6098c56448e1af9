import { join } from "node:path";
import type { StoreFs } from "./store-fs.js";

/**
 * What tells one segment log's files from another's: the magic every segment starts with
 * (a format change gets a new magic) and the file name suffix. Segment n of a log is
 * `<n, 12 digits><suffix>` in its directory; records are framed as record-framing.ts says.
 */
export interface SegmentFormat {
  /** The first bytes of every segment file (8 bytes). */
  readonly magic: Buffer;
  readonly suffix: string;
  /** What the log is called in log lines ("message log", "Raft log"). */
  readonly label: string;
}

/** The durable message store's log: `msgs/000000000001.wlog`. */
export const MESSAGE_LOG_FORMAT: SegmentFormat = {
  magic: Buffer.from("WARRENL1"),
  suffix: ".wlog",
  label: "message log",
};

export function segmentPath(dir: string, n: number, format: SegmentFormat): string {
  return join(dir, segmentFileName(n, format));
}

export function segmentFileName(n: number, format: SegmentFormat): string {
  return `${String(n).padStart(12, "0")}${format.suffix}`;
}

/** The numbers of the segments in a log directory, in order (files named as segmentFileName names them). */
export function segmentNumbersIn(fs: StoreFs, dir: string, format: SegmentFormat): number[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(format.suffix))
    .map((f) => ({ f, n: Number.parseInt(f, 10) }))
    .filter(({ f, n }) => Number.isSafeInteger(n) && f === segmentFileName(n, format))
    .map(({ n }) => n)
    .sort((a, b) => a - b);
}
