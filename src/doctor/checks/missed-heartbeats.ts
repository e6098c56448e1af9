import { type Check, type Finding, plural, seconds } from "../finding.js";
import type { ConnectionEvent } from "../history.js";
import { closesAfter, describeStall, stallBefore } from "./event-loop-stalls.js";

/** Broker event-loop delay (p99) above which its own heartbeats and reads come late. */
const BLOCKED_LOOP_MS = 1000;

export function countBy<T>(items: readonly T[], key: (t: T) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1]);
}

/**
 * Seed 001, "Missed heartbeats from client": the broker closed connections whose
 * clients went silent for two heartbeat intervals. Which hosts, how often, and
 * whether the broker itself was blocked tell the causes in the seed's table apart.
 */
export const missedHeartbeats: Check = {
  id: "missed-heartbeats",
  description: "connections closed because their clients stopped sending heartbeats",
  run(input): Finding[] {
    const since = input.nowMs - input.windowMs;
    const closes = input.history
      .connectionEventsSince(since)
      .filter((e: ConnectionEvent) => e.kind === "closed" && e.missedHeartbeats);
    if (closes.length === 0) return [];
    const byHost = countBy(closes, (e) => e.peerHost);
    const timeouts = [...new Set(closes.map((e) => e.reason.replace(/^.*timeout: /, "")))];
    const evidence = [
      `${plural(closes.length, "connection")} closed for missed heartbeats in the last ${seconds(input.windowMs)} ` +
        `(${input.broker.counters.missedHeartbeatCloses} since the node started)`,
      `from ${byHost.map(([h, n]) => `${h} (${n})`).join(", ")}`,
      `negotiated heartbeat timeout: ${timeouts.join(", ")}`,
      `last: ${closes[closes.length - 1]!.name}, user '${closes[closes.length - 1]!.user ?? "?"}'`,
    ];
    const loop = input.eventLoopDelay;
    const stall = stallBefore(input.stalls ?? [], closes);
    const brokerBlocked = loop.p99Ms > BLOCKED_LOOP_MS || stall !== undefined;
    if (stall) {
      evidence.push(
        `the broker itself stalled for ${describeStall(stall)}; ` +
          `${plural(closesAfter(stall, closes).length, "of these closes", "of these closes")} followed it`,
      );
    } else if (brokerBlocked) {
      evidence.push(
        `the broker's own event loop was delayed up to ${Math.round(loop.maxMs)} ms (p99 ${Math.round(loop.p99Ms)} ms)`,
      );
    }
    const oneHost = byHost.length === 1;
    const remedy = stall
      ? "The broker stalled: for that long it read no socket and sent no heartbeat, so these are not the " +
        "clients' faults. See the event-loop-stalls finding for what it was doing; the clients need no change."
      : brokerBlocked
        ? "The broker itself was busy and may have read heartbeats late: check its CPU and the event-loop delay " +
          "(warrenctl status), then the clients."
        : (oneHost
            ? `Only ${byHost[0]![0]} is affected: look at that client. `
            : "Several hosts are affected: look for something they share (a firewall, a load balancer, the network). ") +
          "A client misses heartbeats when its event loop or green thread is blocked (oslo.messaging: set " +
          "heartbeat_in_pthread = true), when its heartbeat timeout is too short for how busy it gets (raise " +
          "heartbeat_timeout_threshold), or when a firewall or conntrack table drops idle TCP (keep the heartbeat " +
          "timeout below their idle timeout and tune net.ipv4.tcp_keepalive_time).";
    return [
      {
        check: this.id,
        severity: closes.length >= 5 || !oneHost ? "critical" : "warning",
        title: `${plural(closes.length, "connection")} dropped for missed heartbeats`,
        evidence,
        remedy,
        seed: "001 (missed heartbeats from client)",
      },
    ];
  },
};
