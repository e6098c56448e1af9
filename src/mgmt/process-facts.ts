import { readdirSync, readFileSync, statfsSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { EventLoopDelay } from "../doctor/finding.js";

/** What the operating system says about this process, for status, /api/nodes and /metrics. */
export interface ProcessFacts {
  readonly pid: number;
  /** Open file descriptors (/proc/self/fd), or -1 where /proc is missing. */
  readonly fdUsed: number;
  /** The soft "Max open files" limit (/proc/self/limits), or -1 when unknown. */
  readonly fdLimit: number;
  readonly memory: NodeJS.MemoryUsage;
  readonly totalSystemMemoryBytes: number;
  /** The memory high watermark (the memory alarm's threshold), bytes. */
  readonly memoryLimitBytes: number;
  /** The disk free limit (the disk alarm's threshold), bytes. */
  readonly diskFreeLimitBytes: number;
  readonly processors: number;
  /** Free bytes on the data directory's file system (-1 when unknown). */
  readonly diskFreeBytes: number;
  readonly eventLoopDelay: EventLoopDelay;
  readonly uptimeMs: number;
  readonly startedAtMs: number;
}

/**
 * RabbitMQ's sockets_limit: 90% of the descriptor limit after 100 reserved for
 * files (file_handle_cache: ?RESERVED_FOR_OTHERS and ?FRACTION_OF_LIMIT).
 */
export function socketsLimitFor(fdLimit: number): number {
  return fdLimit < 0 ? -1 : Math.max(0, Math.trunc((fdLimit - 100) * 0.9));
}

/** Parses the "Max open files" soft limit out of /proc/<pid>/limits text. */
export function parseOpenFilesLimit(limitsText: string): number {
  const line = limitsText.split("\n").find((l) => l.startsWith("Max open files"));
  if (!line) return -1;
  const soft = line.slice("Max open files".length).trim().split(/\s+/)[0];
  if (soft === "unlimited") return Number.MAX_SAFE_INTEGER;
  const n = Number(soft);
  return Number.isFinite(n) ? n : -1;
}

function countOpenFds(): number {
  try {
    // readdir itself holds one descriptor while it runs; do not count it.
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return -1;
  }
}

function readFdLimit(): number {
  try {
    return parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return -1;
  }
}

function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return -1;
  }
}

const NS_PER_MS = 1e6;
/** Sampling interval of the event-loop delay histogram. */
const RESOLUTION_MS = 10;

/**
 * Reads process facts on demand. The event-loop delay histogram runs from start()
 * to stop(); each facts() call reports it since the previous reset (resetEvery).
 */
export class ProcessProbe {
  private histogram: IntervalHistogram | undefined;
  private lastDelay: EventLoopDelay = { meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  private lastResetMs = 0;

  constructor(
    private readonly dataDir: string,
    /** The alarm thresholds the broker's resource monitor uses, when it runs. */
    private readonly limits: () =>
      | { memoryLimitBytes: number; diskFreeLimitBytes: number }
      | undefined,
    readonly startedAtMs: number,
    private readonly clock: () => number = Date.now,
    /** The histogram covers at least this long before it starts again. */
    private readonly windowMs = 60_000,
  ) {}

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.lastResetMs = this.clock();
  }

  stop(): void {
    this.histogram?.disable();
  }

  eventLoopDelay(): EventLoopDelay {
    const h = this.histogram;
    if (!h || h.count === 0) return this.lastDelay;
    // Node 20's histogram records the whole timer interval, resolution included.
    const delay = (ns: number) => Math.max(0, ns / NS_PER_MS - RESOLUTION_MS);
    const current = {
      meanMs: delay(h.mean),
      p50Ms: delay(h.percentile(50)),
      p99Ms: delay(h.percentile(99)),
      maxMs: delay(h.max),
    };
    const now = this.clock();
    if (now - this.lastResetMs >= this.windowMs) {
      this.lastDelay = current;
      h.reset();
      this.lastResetMs = now;
    }
    return current;
  }

  facts(): ProcessFacts {
    const now = this.clock();
    return {
      pid: process.pid,
      fdUsed: countOpenFds(),
      fdLimit: readFdLimit(),
      memory: process.memoryUsage(),
      totalSystemMemoryBytes: totalmem(),
      memoryLimitBytes: this.limits()?.memoryLimitBytes ?? totalmem(),
      diskFreeLimitBytes: this.limits()?.diskFreeLimitBytes ?? 0,
      processors: availableParallelism(),
      diskFreeBytes: diskFree(this.dataDir),
      eventLoopDelay: this.eventLoopDelay(),
      uptimeMs: now - this.startedAtMs,
      startedAtMs: this.startedAtMs,
    };
  }
}
