/**
 * A pause of the event loop: for its whole length no socket was read, no heartbeat
 * sent or checked, no timer run. Clients with a heartbeat timeout shorter than a
 * pause see the broker as dead; the broker, when it wakes, sees them as silent.
 */
export interface Stall {
  /** When the pause began. */
  readonly atMs: number;
  readonly durationMs: number;
  /**
   * CPU time the process used during the pause: close to the duration when the broker
   * was busy, far below it when the machine gave the CPU to others.
   */
  readonly cpuMs: number;
  /** What the broker was doing: the longest task that ran in it, or what else it was. */
  readonly during: string;
}

/** The runtime times its tasks (socket input, flushes, ticks, HTTP requests) through this. */
export interface TaskTimer {
  /** Runs `fn`; if it is the longest task around a stall, `describe()` names it. */
  timed<T>(describe: () => string, fn: () => T): T;
}

/** The pauses of the recent past, kept in memory for status, metrics and the doctor. */
export class StallHistory {
  private readonly stalls: Stall[] = [];
  private worst = 0;
  private total = 0;

  constructor(private readonly maxKept = 200) {}

  record(stall: Stall): void {
    this.stalls.push(stall);
    if (this.stalls.length > this.maxKept) this.stalls.shift();
    this.total++;
    if (stall.durationMs > this.worst) this.worst = stall.durationMs;
  }

  /** Stalls that began at or after `sinceMs`, oldest first. */
  since(sinceMs: number): Stall[] {
    return this.stalls.filter((s) => s.atMs >= sinceMs);
  }

  /** The longest pause since the node started. */
  get worstMs(): number {
    return this.worst;
  }

  /** Pauses recorded since the node started. */
  get count(): number {
    return this.total;
  }
}
