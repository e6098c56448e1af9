import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

/** How fast the disk under a folder makes small appends durable, one fdatasync each. */
export interface FsyncRate {
  /** Bytes appended before each fdatasync. */
  readonly appendBytes: number;
  readonly calls: number;
  readonly seconds: number;
  readonly perS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Appends `appendBytes` to a fresh file in `dir` and fdatasyncs it, again and again for
 * `durationMs`: a write-ahead log committing one batch per fsync at best. The loop is
 * synchronous on purpose (nothing else runs in the bench while it measures).
 */
export function measureFsyncRate(dir: string, appendBytes: number, durationMs: number): FsyncRate {
  const path = join(dir, `fsync-probe-${process.pid}-${appendBytes}`);
  const fd = openSync(path, "w");
  const block = Buffer.alloc(appendBytes, 0x61);
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  try {
    for (let now = start; now < deadline; ) {
      writeSync(fd, block);
      fdatasyncSync(fd);
      const after = performance.now();
      latencies.push(after - now);
      now = after;
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    appendBytes,
    calls: latencies.length,
    seconds: round(seconds),
    perS: Math.round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}
