import type { Check, Finding } from "../finding.js";

/** Headroom (free share of the limit) below which the doctor warns; seed 001 alerts at 80% used. */
export const FD_HEADROOM_WARNING = 0.2;
export const FD_HEADROOM_CRITICAL = 0.05;
/** Event-loop delay (p99) that makes the broker late for its own heartbeats and reads. */
export const LOOP_DELAY_WARNING_MS = 1000;

/**
 * Seed 001, "File descriptor / socket limits exhausted": total_used near
 * total_limit, or sockets_used near sockets_limit, starves new and existing connections.
 */
export const descriptorHeadroom: Check = {
  id: "file-descriptors",
  description: "file descriptor and socket headroom (under 20% free is a problem)",
  run(input): Finding[] {
    const { used, limit, socketsUsed, socketsLimit } = input.fds;
    if (used < 0 || limit <= 0) return [];
    const fdFree = (limit - used) / limit;
    const sockFree = socketsLimit > 0 ? (socketsLimit - socketsUsed) / socketsLimit : 1;
    const free = Math.min(fdFree, sockFree);
    if (free >= FD_HEADROOM_WARNING) return [];
    return [
      {
        check: this.id,
        severity: free < FD_HEADROOM_CRITICAL ? "critical" : "warning",
        title: `only ${Math.round(free * 100)}% of file descriptors are free`,
        evidence: [
          `{file_descriptors,[{total_limit,${limit}},{total_used,${used}},{sockets_limit,${socketsLimit}},{sockets_used,${socketsUsed}}]}`,
          `${input.connections.length} AMQP connections are open`,
        ],
        remedy:
          "Raise the open-files limit of the Warren process (LimitNOFILE= in its systemd unit, ulimit -n, or the " +
          "container's nofile ulimit) well above connections plus channels for the whole fleet, then restart it; " +
          "also look for clients that open many connections (warrenctl list_connections peer_host | sort | uniq -c).",
        seed: "001 (file descriptor / socket limits exhausted)",
      },
    ];
  },
};

/** Any resource alarm in effect: publishers are blocked or persistent publishes nacked. */
export const activeAlarms: Check = {
  id: "alarms",
  description: "resource alarms in effect (memory, disk, file descriptors, message store)",
  run(input): Finding[] {
    return input.alarms.map((a) => ({
      check: this.id,
      severity: "critical" as const,
      title: `alarm in effect: ${a.resource}`,
      evidence: [`node ${a.node}: ${a.reason}`],
      remedy:
        a.resource === "message_store"
          ? "The message log could not write or sync (a full or failing disk): free space or fix the disk under " +
            "the data directory; persistent publishes are refused until a write succeeds again."
          : a.resource === "disk"
            ? "Free disk space under the data directory or raise the disk limit; publishers are blocked meanwhile."
            : a.resource === "memory"
              ? "Consumers are not keeping up or queues hold too much: drain or purge large queues, add consumers, " +
                "or give the node more memory; publishers are blocked meanwhile."
              : "Raise the open-files limit and restart; new connections are refused meanwhile.",
      seed: "004 (memory pressure)",
    }));
  },
};

/** The broker's own event loop is blocked: heartbeats go out late and reads queue up. */
export const eventLoopDelay: Check = {
  id: "event-loop",
  description: "the broker's event-loop delay (a blocked broker misses its own heartbeats)",
  run(input): Finding[] {
    const d = input.eventLoopDelay;
    if (d.p99Ms < LOOP_DELAY_WARNING_MS) return [];
    return [
      {
        check: this.id,
        severity: "warning",
        title: `the broker's event loop is delayed (p99 ${Math.round(d.p99Ms)} ms)`,
        evidence: [
          `event-loop delay: mean ${Math.round(d.meanMs)} ms, p99 ${Math.round(d.p99Ms)} ms, max ${Math.round(d.maxMs)} ms`,
        ],
        remedy:
          "The node is CPU-starved or doing long synchronous work: check the host's CPU (other processes, " +
          "steal time), very large messages, or huge queues being purged or deleted.",
        seed: "001 (overloaded controllers)",
      },
    ];
  },
};

/** Partitions and minority state: nothing to check until clustering lands. */
export const partitions: Check = {
  id: "partitions",
  description: "network partitions and minority state (single node: nothing to check)",
  run(): Finding[] {
    return [];
  },
};
