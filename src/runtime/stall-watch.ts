import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import type { StallHistory, TaskTimer } from "../doctor/stalls.js";
import type { Log } from "../log.js";

/** A pause at least this long is a stall: recorded, logged and shown to the doctor. */
export const STALL_MS = 100;
/** How often the watch looks at the clock; its lateness is the pause. */
const PROBE_MS = 20;
/** How a pause the machine caused (not the broker's work) is described; it starts the text. */
export const STARVED = "starved of CPU";

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Finds the event loop's pauses and what caused them. A timer fires every 20 ms; if
 * it comes 100 ms or more late, the loop was held, and the longest task timed since
 * the previous probe (socket input of a connection, the flush, the tick, an HTTP
 * request), or a long garbage collection, is named as the cause. The monitor's
 * per-second histogram cannot say this: it forgets after a second and names nothing.
 */
export class StallWatch implements TaskTimer {
  private timer: NodeJS.Timeout | undefined;
  private gc: PerformanceObserver | undefined;
  private lastProbe = 0;
  private longestMs = 0;
  private longest: (() => string) | undefined;
  private gcMs = 0;
  private lastCpuMs = 0;

  constructor(
    private readonly history: StallHistory,
    private readonly log: Log,
    private readonly now: () => number = () => performance.now(),
    private readonly wallClock: () => number = Date.now,
    /** CPU time the process has used (user and system), in ms. */
    private readonly cpuMs: () => number = processCpuMs,
  ) {}

  start(): void {
    this.lastProbe = this.now();
    this.lastCpuMs = this.cpuMs();
    this.timer = setInterval(() => this.probe(), PROBE_MS);
    this.timer.unref();
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries() as PerformanceEntry[]) this.gcMs += e.duration;
    });
    this.gc.observe({ entryTypes: ["gc"] });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.gc?.disconnect();
  }

  timed<T>(describe: () => string, fn: () => T): T {
    const started = this.now();
    try {
      return fn();
    } finally {
      const ms = this.now() - started;
      if (ms > this.longestMs) {
        this.longestMs = ms;
        this.longest = describe;
      }
    }
  }

  /** One look at the clock: a late probe is a stall, and the longest task explains it. */
  probe(): void {
    const now = this.now();
    const cpu = this.cpuMs();
    const pauseMs = now - this.lastProbe - PROBE_MS;
    const cpuUsedMs = cpu - this.lastCpuMs;
    this.lastProbe = now;
    this.lastCpuMs = cpu;
    if (pauseMs >= STALL_MS) this.stalled(pauseMs, cpuUsedMs);
    this.longestMs = 0;
    this.longest = undefined;
    this.gcMs = 0;
  }

  private stalled(pauseMs: number, cpuUsedMs: number): void {
    const durationMs = Math.round(pauseMs);
    let during: string;
    if (cpuUsedMs < pauseMs / 2) {
      // Busy or not, the process hardly ran: the time went to other processes.
      during =
        `${STARVED}: the process got ${Math.round(cpuUsedMs)} ms of CPU in ${durationMs} ms ` +
        "(a busy or overcommitted machine, CPU steal, swapping, or a stopped process)" +
        (this.longest ? `; the longest task was ${this.describeSafely(this.longest)}` : "");
    } else if (this.longest && this.longestMs >= pauseMs / 2) {
      during = `${this.describeSafely(this.longest)} (${Math.round(this.longestMs)} ms)`;
    } else if (this.gcMs >= pauseMs / 2) {
      during = `garbage collection (${Math.round(this.gcMs)} ms)`;
    } else {
      during = "no broker task ran that long (time in native code or the runtime)";
    }
    const stall = {
      atMs: this.wallClock() - durationMs,
      durationMs,
      cpuMs: Math.round(cpuUsedMs),
      during,
    };
    this.history.record(stall);
    this.log.warn(
      { stallMs: durationMs, during },
      `event loop stalled for ${durationMs} ms: ${during}; no socket was read and no heartbeat sent meanwhile`,
    );
  }

  private describeSafely(describe: () => string): string {
    try {
      return describe();
    } catch {
      return "a task that could not be described";
    }
  }
}
