import { readdirSync, readFileSync, statfs } from "node:fs";
import { totalmem } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import type { ResourceStats } from "../vhost/alarms.js";
import type { Broker } from "../vhost/broker.js";
import {
  type DescriptorReserve,
  HEADROOM_DESCRIPTORS,
  HTTP_CLIENTS_RESERVED,
  reserveTotal,
  reserveView,
  socketsAllowance,
} from "./descriptor-budget.js";

/** RabbitMQ's vm_memory_high_watermark: a fraction of RAM, or an absolute number of bytes. */
export type MemoryWatermark = { readonly relative: number } | { readonly absolute: number };

export interface ResourceLimits {
  memoryHighWatermark: MemoryWatermark;
  /** Free disk space below which the disk alarm is set (RabbitMQ disk_free_limit: 50 MB). */
  diskFreeLimitBytes: number;
}

/** Parses "0.6", "2GB", "512MiB", "50MB" or a plain byte count. */
export function parseWatermark(text: string): MemoryWatermark {
  const n = Number(text);
  if (Number.isFinite(n) && n > 0 && n <= 1) return { relative: n };
  return { absolute: parseBytes(text) };
}

/**
 * A size with RabbitMQ's units: kB, MB, GB (powers of 1000), k/KiB, M/MiB, G/GiB
 * (powers of 1024), or plain bytes.
 */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib|tb|tib)$/i.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a size (examples: 50MB, 2GB, 1073741824)`);
  const unit = m[2]!.toLowerCase();
  const scale: Record<string, number> = {
    "": 1,
    b: 1,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
    tb: 1e12,
    tib: 1024 ** 4,
  };
  return Math.round(Number(m[1]) * scale[unit]!);
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 ** 2);
}

/**
 * The share of the memory limit that queues may fill with entries before they page
 * new ones to disk (RabbitMQ's vm_memory_high_watermark_paging_ratio, 0.5): paging
 * starts well before the alarm, so the alarm is the last resort, not the first.
 */
export const QUEUE_MEMORY_RATIO = 0.5;

/** What V8 lets the JavaScript heap grow to (--max-old-space-size and the young generation). */
export function heapLimitBytes(): number {
  return getHeapStatistics().heap_size_limit;
}

/** The soft limit on open files, from /proc (falls back to 1024 where it cannot be read). */
export function fdLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s+/)[3];
    return soft === "unlimited" ? 1_000_000 : Number(soft) || 1024;
  } catch {
    return 1024;
  }
}

export function fdsInUse(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/** A reserve for a node whose parts are not known (tests that build a monitor alone). */
const DEFAULT_RESERVE: DescriptorReserve = {
  process: 30,
  messageStore: 20,
  definitions: 2,
  dataDirLock: 1,
  listeners: 4,
  httpClients: HTTP_CLIENTS_RESERVED,
  headroom: HEADROOM_DESCRIPTORS,
};

/**
 * Watches memory, disk and file descriptors once a second and sets or clears the
 * broker's resource alarms; keeps the figures for status, metrics and doctor.
 * Like RabbitMQ, descriptors are not an alarm: near the limit the listener refuses
 * new connections instead (see `acceptsConnections`). The open-files limit is
 * read again on every check, so one lowered while the node runs (prlimit) changes
 * the socket allowance within a second.
 */
export class ResourceMonitor {
  readonly stats: ResourceStats;
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private timer: NodeJS.Timeout | undefined;
  /** Why the message store cannot write, if it cannot: it holds the disk alarm too. */
  storeProblem: () => string | undefined = () => undefined;

  constructor(
    private readonly broker: Broker,
    readonly limits: ResourceLimits,
    private readonly dataDir: string,
    private readonly socketsInUse: () => number,
    readonly reserve: DescriptorReserve = DEFAULT_RESERVE,
  ) {
    const total = fdLimit();
    this.stats = {
      fdTotalLimit: total,
      fdTotalUsed: 0,
      socketsLimit: socketsAllowance(total, reserve),
      fdReserved: reserveTotal(reserve),
      fdReserve: reserveView(reserve),
      socketsUsed: 0,
      memoryUsedBytes: 0,
      memoryLimitBytes: 0,
      queueMemoryUsedBytes: 0,
      queueMemoryBudgetBytes: 0,
      diskFreeBytes: Number.POSITIVE_INFINITY,
      diskFreeLimitBytes: limits.diskFreeLimitBytes,
      eventLoopDelayP50Ms: 0,
      eventLoopDelayP99Ms: 0,
      eventLoopDelayMaxMs: 0,
    };
  }

  start(intervalMs = 1000): void {
    this.applyMemoryLimit();
    this.delay.enable();
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.delay.disable();
  }

  /** The high watermark as configured: a share of RAM, or bytes. */
  get watermarkBytes(): number {
    const w = this.limits.memoryHighWatermark;
    return "relative" in w ? Math.floor(totalmem() * w.relative) : w.absolute;
  }

  /**
   * What the process can really hold: the watermark, or V8's heap limit if that is
   * lower (60% of 24 GiB is far more than the 4 GiB heap Node gives by default; a
   * node that only compared with the watermark would die of "heap out of memory"
   * with the alarm never set).
   */
  get memoryLimitBytes(): number {
    return Math.min(this.watermarkBytes, heapLimitBytes());
  }

  /** Sizes the queues' memory budget from the memory limit and says how the limit was chosen. */
  private applyMemoryLimit(): void {
    const limit = this.memoryLimitBytes;
    this.broker.memory.limitBytes = Math.floor(limit * QUEUE_MEMORY_RATIO);
    this.stats.memoryLimitBytes = limit;
    const watermark = this.watermarkBytes;
    const heap = heapLimitBytes();
    const total = totalmem();
    const why =
      heap < watermark
        ? `; the watermark (${mib(watermark)} MiB) is above V8's heap limit of ${mib(heap)} MiB, so the ` +
          "heap limit applies (start node with --max-old-space-size=MiB to raise it)"
        : "";
    this.broker.log.info(
      {
        watermarkBytes: watermark,
        heapLimitBytes: heap,
        memoryLimitBytes: limit,
        queueMemoryBudgetBytes: this.broker.memory.limitBytes,
      },
      `Memory high watermark set to ${mib(limit)} MiB (${limit} bytes) of ${mib(total)} MiB (${total} bytes) total${why}; ` +
        `queues page messages to disk beyond ${mib(this.broker.memory.limitBytes)} MiB`,
    );
  }

  /**
   * rabbitmqctl set_vm_memory_high_watermark: the new threshold applies at once, so
   * an alarm it no longer justifies clears now (and one it now justifies is set).
   */
  setMemoryHighWatermark(watermark: MemoryWatermark): void {
    this.limits.memoryHighWatermark = watermark;
    this.applyMemoryLimit();
    this.check();
  }

  /** rabbitmqctl set_disk_free_limit: applies at once, as the memory watermark does. */
  setDiskFreeLimit(bytes: number): void {
    this.limits.diskFreeLimitBytes = bytes;
    this.broker.log.info({ diskFreeLimitBytes: bytes }, `Disk free limit set to ${bytes} bytes`);
    this.check();
  }

  /** Whether one more connection fits under the descriptor limits. */
  acceptsConnections(): boolean {
    const s = this.stats;
    s.socketsUsed = this.socketsInUse();
    return s.socketsUsed < s.socketsLimit && s.fdTotalUsed < s.fdTotalLimit - this.reserve.headroom;
  }

  /** The limit again (prlimit can change it while the node runs), and the socket allowance from it. */
  private checkDescriptors(): void {
    const s = this.stats;
    s.fdTotalUsed = fdsInUse();
    s.socketsUsed = this.socketsInUse();
    const limit = fdLimit();
    if (limit === s.fdTotalLimit) return;
    const before = s.fdTotalLimit;
    s.fdTotalLimit = limit;
    s.socketsLimit = socketsAllowance(limit, this.reserve);
    const over = s.socketsUsed > s.socketsLimit;
    this.broker.log[limit < before ? "warn" : "info"](
      {
        fdLimitBefore: before,
        fdLimit: limit,
        socketsLimit: s.socketsLimit,
        socketsUsed: s.socketsUsed,
        reserved: s.fdReserved,
      },
      `open files limit changed from ${before} to ${limit}: up to ${s.socketsLimit} AMQP connections now ` +
        `(${s.fdReserved} descriptors reserved for files, listeners and HTTP)` +
        (over
          ? `; ${s.socketsUsed} are open, so new connections are refused until some close`
          : ""),
    );
  }

  /** Samples everything and sets or clears the alarms. */
  check(): void {
    const s = this.stats;
    this.checkDescriptors();
    s.memoryUsedBytes = process.memoryUsage.rss();
    s.memoryLimitBytes = this.memoryLimitBytes;
    s.queueMemoryUsedBytes = this.broker.memory.usedBytes;
    s.queueMemoryBudgetBytes = this.broker.memory.limitBytes;
    s.diskFreeLimitBytes = this.limits.diskFreeLimitBytes;
    s.eventLoopDelayP50Ms = this.delay.percentile(50) / 1e6;
    s.eventLoopDelayP99Ms = this.delay.percentile(99) / 1e6;
    s.eventLoopDelayMaxMs = this.delay.max / 1e6;
    this.delay.reset();
    if (s.eventLoopDelayMaxMs > 250) {
      this.broker.log.warn(
        { p99Ms: s.eventLoopDelayP99Ms, maxMs: s.eventLoopDelayMaxMs },
        `event loop delay reached ${Math.round(s.eventLoopDelayMaxMs)} ms in the last second (p99 ${Math.round(s.eventLoopDelayP99Ms)} ms)`,
      );
    }
    this.broker.setAlarm(
      "memory",
      s.memoryUsedBytes > s.memoryLimitBytes,
      `memory used ${s.memoryUsedBytes} bytes, high watermark ${s.memoryLimitBytes} bytes`,
    );
    statfs(this.dataDir, (err, st) => {
      if (err) return;
      s.diskFreeBytes = st.bavail * st.bsize;
      this.updateDiskAlarm();
    });
  }

  /**
   * The disk alarm: free space below the limit, or the message store unable to
   * write (ENOSPC before the limit was reached, a failing disk, no descriptor for
   * a new segment). Either blocks publishers until it clears.
   */
  updateDiskAlarm(): void {
    const s = this.stats;
    const low = s.diskFreeBytes < this.limits.diskFreeLimitBytes;
    const store = this.storeProblem();
    const space = `free disk space ${s.diskFreeBytes} bytes, limit ${this.limits.diskFreeLimitBytes} bytes`;
    this.broker.setAlarm("disk", low || store !== undefined, low || !store ? space : store);
  }
}
