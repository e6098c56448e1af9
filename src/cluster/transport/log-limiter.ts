/**
 * Keeps a repeated log line from flooding the log: a peer with the wrong secret is retried
 * every few seconds by its own backoff, and the operator needs one clear line about it, then a
 * reminder with a count, not a line per attempt. Pure: time comes in as nowMs.
 */
export interface LimitedLine {
  /** How many times the same line was suppressed since it was last logged. */
  readonly suppressed: number;
}

export class LogLimiter {
  private readonly lastLogged = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 1_024,
  ) {}

  /** Whether to log the line with this key now; null means stay quiet. */
  admit(key: string, nowMs: number): LimitedLine | null {
    const seen = this.lastLogged.get(key);
    if (seen !== undefined && nowMs - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return null;
    }
    // Bounded: a scan of random source addresses must not grow the map without end.
    if (seen === undefined && this.lastLogged.size >= this.maxKeys) this.forgetOldest();
    // Re-inserted so the map's order is the order of last logging: the oldest goes first.
    this.lastLogged.delete(key);
    this.lastLogged.set(key, { atMs: nowMs, suppressed: 0 });
    return { suppressed: seen?.suppressed ?? 0 };
  }

  private forgetOldest(): void {
    const oldest = this.lastLogged.keys().next();
    if (!oldest.done) this.lastLogged.delete(oldest.value);
  }
}
