/**
 * How many messages a publisher at a fixed rate should send now: the schedule says
 * floor(rate x elapsed) by this time; the shortfall is due, at most `burstLimit` at
 * once so a publisher that was held back (blocked, a full confirm window) catches up
 * over several turns instead of in one burst. Rate 0 means no limit.
 */
export function messagesDue(
  ratePerS: number,
  elapsedMs: number,
  sentSoFar: number,
  burstLimit: number,
): number {
  if (ratePerS <= 0) return burstLimit;
  const scheduled = Math.floor((ratePerS * Math.max(0, elapsedMs)) / 1000);
  return Math.max(0, Math.min(burstLimit, scheduled - sentSoFar));
}

/** Milliseconds until the schedule makes the next message due (at least 1). */
export function msUntilNextDue(ratePerS: number, elapsedMs: number, sentSoFar: number): number {
  const dueAtMs = ((sentSoFar + 1) * 1000) / ratePerS;
  return Math.max(1, Math.ceil(dueAtMs - elapsedMs));
}

/** Splits a total (rate or message count) over n workers; the first ones take the remainder. */
export function share(total: number, n: number, index: number): number {
  if (n <= 0) return 0;
  const base = Math.floor(total / n);
  return base + (index < total - base * n ? 1 : 0);
}
