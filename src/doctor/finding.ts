import type { AmqpConnection } from "../connection/amqp-connection.js";
import type { QuorumQueueStatus } from "../quorum/quorum-admin.js";
import type { Alarm } from "../vhost/alarms.js";
import type { Broker } from "../vhost/broker.js";
import type { ClusterFacts } from "./cluster-facts.js";
import type { History } from "./history.js";
import type { Stall } from "./stalls.js";

export type Severity = "warning" | "critical";

/**
 * One problem the doctor found: what is wrong in a sentence, the facts that show
 * it, and what to do in plain words. `seed` names the troubleshooting guide whose
 * symptom table the check comes from.
 */
export interface Finding {
  readonly check: string;
  readonly severity: Severity;
  readonly title: string;
  readonly evidence: readonly string[];
  readonly remedy: string;
  readonly seed?: string;
}

/** Everything a check may look at: live state, process facts and the recent past. */
export interface DoctorInput {
  readonly nowMs: number;
  readonly broker: Broker;
  /** Every AMQP connection with a socket. */
  readonly connections: readonly AmqpConnection[];
  readonly history: History;
  readonly fds: {
    readonly used: number;
    readonly limit: number;
    readonly socketsUsed: number;
    readonly socketsLimit: number;
  };
  readonly alarms: readonly Alarm[];
  readonly eventLoopDelay: EventLoopDelay;
  /** The event loop's pauses in the window, oldest first (absent when nobody watched). */
  readonly stalls?: readonly Stall[];
  /** How far back the history-based checks look. */
  readonly windowMs: number;
  /** How long a transient queue may sit unused with no consumer before it counts as abandoned. */
  readonly abandonedAfterMs?: number;
  /** The cluster as this node sees it; absent on a single node. */
  readonly cluster?: ClusterFacts;
  /** The quorum queues as this node sees them (QuorumAdmin.list()); absent without any. */
  readonly quorum?: readonly QuorumQueueStatus[];
}

export interface Check {
  readonly id: string;
  /** What the check looks for, for the report's list of checks. */
  readonly description: string;
  run(input: DoctorInput): Finding[];
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function seconds(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/** The event loop's delay over the last sampling window (perf_hooks' histogram). */
export interface EventLoopDelay {
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}
