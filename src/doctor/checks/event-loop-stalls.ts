import { type Check, type Finding, plural } from "../finding.js";
import type { ConnectionEvent } from "../history.js";
import type { Stall } from "../stalls.js";

/** A stall this long already costs clients with short heartbeat timeouts their connections. */
export const LONG_STALL_MS = 1000;

/** The heartbeat timeout a close reason names ("... timeout: 5s"), in ms, or 60 s. */
function timeoutOf(event: ConnectionEvent): number {
  const m = /timeout: (\d+)s/.exec(event.reason);
  return m ? Number(m[1]) * 1000 : 60_000;
}

/**
 * The connections that closed soon after a stall ended (within two heartbeat
 * intervals, which is how long a client waits before it gives up on a silent broker).
 */
export function closesAfter(stall: Stall, events: readonly ConnectionEvent[]): ConnectionEvent[] {
  const endMs = stall.atMs + stall.durationMs;
  return events.filter(
    (e) => e.kind === "closed" && e.atMs >= stall.atMs && e.atMs - endMs <= 2 * timeoutOf(e),
  );
}

/** The stall that best explains a burst of closes: the longest long one before them. */
export function stallBefore(
  stalls: readonly Stall[],
  closes: readonly ConnectionEvent[],
): Stall | undefined {
  let best: Stall | undefined;
  for (const s of stalls) {
    if (s.durationMs < LONG_STALL_MS) continue;
    if (closesAfter(s, closes).length === 0) continue;
    if (!best || s.durationMs > best.durationMs) best = s;
  }
  return best;
}

export function describeStall(s: Stall): string {
  return `${(s.durationMs / 1000).toFixed(1)} s at ${new Date(s.atMs).toISOString()} while ${s.during}`;
}

/**
 * The broker's own pauses (seed 001's "overloaded controllers", and the cause the
 * missed-heartbeat table forgets): for the whole pause no socket is read and no
 * heartbeat sent, so every client with a shorter timeout gives up at once.
 */
export const eventLoopStalls: Check = {
  id: "event-loop-stalls",
  description: "pauses of the broker's event loop, what caused them, and the connections they cost",
  run(input): Finding[] {
    const stalls = input.stalls ?? [];
    if (stalls.length === 0) return [];
    const worst = stalls.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    const events = input.history.connectionEventsSince(input.nowMs - input.windowMs);
    const lost = closesAfter(worst, events);
    const long = worst.durationMs >= LONG_STALL_MS;
    const evidence = [
      `${plural(stalls.length, "pause")} of ${100} ms or more in the last ${Math.round(input.windowMs / 60_000)} min`,
      `the longest: ${describeStall(worst)}`,
      ...stalls
        .filter((s) => s !== worst)
        .slice(-3)
        .map((s) => `also: ${describeStall(s)}`),
    ];
    if (lost.length > 0) {
      evidence.push(
        `${plural(lost.length, "connection")} closed within two heartbeat intervals after it ended`,
      );
    }
    return [
      {
        check: this.id,
        severity: long || lost.length > 0 ? "critical" : "warning",
        title: `the broker stalled for ${(worst.durationMs / 1000).toFixed(1)} s${lost.length ? ` and ${plural(lost.length, "connection")} dropped after it` : ""}`,
        evidence,
        remedy:
          "While the broker's event loop is paused it reads no socket and sends no heartbeat, so clients " +
          "with a shorter heartbeat timeout drop their connections: the fault is the broker's, not theirs. " +
          "Look at what it was doing (above). Long synchronous work is a Warren bug worth reporting with this " +
          "report; garbage collection points at memory pressure (warrenctl status: memory); a pause with no " +
          "task points at the host (CPU starvation, steal time, swapping, a stopped process).",
        seed: "001 (missed heartbeats, overloaded controllers)",
      },
    ];
  },
};
