import { CLUSTER_CHECKS } from "./checks/cluster-checks.js";
import { connectionChurn } from "./checks/connection-churn.js";
import { eventLoopStalls } from "./checks/event-loop-stalls.js";
import { type ExpiryOf, expiredQueues, expiryFromSettings } from "./checks/expired-queues.js";
import { poisonLoops, unroutableDrops } from "./checks/message-loops.js";
import { missedHeartbeats } from "./checks/missed-heartbeats.js";
import { rpcReplyQueues, stalledConsumers } from "./checks/queue-backlogs.js";
import { QUORUM_CHECKS } from "./checks/quorum-checks.js";
import {
  activeAlarms,
  descriptorHeadroom,
  eventLoopDelay,
  partitions,
} from "./checks/resources.js";
import { storeDamage } from "./checks/store-damage.js";
import type { Check, DoctorInput, Finding, Severity } from "./finding.js";

/** The report `warrenctl doctor` prints and /api/warren/doctor returns. */
export interface DoctorReport {
  readonly node: string;
  readonly checkedAt: string;
  readonly windowMs: number;
  /** True when nothing is wrong. */
  readonly healthy: boolean;
  readonly status: "ok" | Severity;
  readonly checks: readonly { id: string; description: string; status: "ok" | Severity }[];
  readonly findings: readonly Finding[];
}

/**
 * Every check, in the order the seeds' diagnostic workflow walks them. A node in a cluster
 * runs the cluster's checks where a single node has its "partitions" placeholder; a node that
 * runs quorum queues adds theirs after them.
 */
export function allChecks(
  expiryOf: ExpiryOf = expiryFromSettings,
  clustered = false,
  quorum = false,
): Check[] {
  return [
    missedHeartbeats,
    ...(clustered ? CLUSTER_CHECKS : [partitions]),
    ...(quorum ? QUORUM_CHECKS : []),
    activeAlarms,
    storeDamage,
    descriptorHeadroom,
    connectionChurn,
    stalledConsumers,
    rpcReplyQueues,
    poisonLoops,
    unroutableDrops,
    expiredQueues(expiryOf),
    eventLoopDelay,
    eventLoopStalls,
  ];
}

function worst(findings: readonly Finding[]): "ok" | Severity {
  if (findings.some((f) => f.severity === "critical")) return "critical";
  return findings.length > 0 ? "warning" : "ok";
}

/**
 * Runs the checks over the input. A check that throws is reported as a finding
 * itself, so one broken check never hides the others.
 */
export function runDoctor(
  input: DoctorInput,
  checks: readonly Check[] = allChecks(),
): DoctorReport {
  const findings: Finding[] = [];
  const statuses: DoctorReport["checks"][number][] = [];
  for (const check of checks) {
    let found: Finding[];
    try {
      found = check.run(input);
    } catch (e) {
      found = [
        {
          check: check.id,
          severity: "warning",
          title: `the ${check.id} check failed: ${(e as Error).message}`,
          evidence: [String((e as Error).stack ?? e)],
          remedy: "Report this as a Warren bug; the other checks are unaffected.",
        },
      ];
    }
    findings.push(...found);
    statuses.push({ id: check.id, description: check.description, status: worst(found) });
  }
  const status = worst(findings);
  return {
    node: input.broker.settings.nodeName,
    checkedAt: new Date(input.nowMs).toISOString(),
    windowMs: input.windowMs,
    healthy: status === "ok",
    status,
    checks: statuses,
    findings,
  };
}
