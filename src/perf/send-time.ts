/** Bytes at the start of a body that carry its send time. */
export const SEND_TIME_BYTES = 8;
/** A latency above this is not believed (the body was not stamped by this tool). */
const MAX_BELIEVABLE_MS = 86_400_000;

/**
 * Milliseconds since the epoch with microsecond resolution, monotonic within a process
 * (performance.timeOrigin + performance.now()), so a publisher and a consumer in different
 * processes on one machine can compare times too.
 */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Stamps the send time into the first 8 bytes (float64 little-endian) when the body has room. */
export function writeSendTime(body: Buffer, nowMs = nowEpochMs()): number {
  if (body.length >= SEND_TIME_BYTES) body.writeDoubleLE(nowMs, 0);
  return nowMs;
}

/** Microseconds since the body was stamped; undefined when it is too short or not stamped by us. */
export function latencyUsOf(body: Buffer, nowMs = nowEpochMs()): number | undefined {
  if (body.length < SEND_TIME_BYTES) return undefined;
  const elapsedMs = nowMs - body.readDoubleLE(0);
  if (!(elapsedMs > -1 && elapsedMs < MAX_BELIEVABLE_MS)) return undefined;
  return Math.max(0, elapsedMs * 1000);
}
