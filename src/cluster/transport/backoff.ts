/**
 * How long to wait before dialling a peer again: exponential, capped, with jitter so that the
 * nodes of a cluster that lost a peer together do not all dial it in the same millisecond
 * when it returns ("full jitter" halved: the delay is between half and all of the step).
 * Pure: the random fraction comes in.
 */
export interface BackoffOptions {
  /** The first delay after a failure. */
  readonly initialMs: number;
  /** The delay stops doubling here. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/** The delay before attempt number `failures` (1 after the first failure), in ms. */
export function backoffDelayMs(
  options: BackoffOptions,
  failures: number,
  fraction: number,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const step = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.round(step / 2 + (step / 2) * fraction);
}
