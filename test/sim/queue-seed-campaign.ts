/**
 * Runs many seeds of the classic-queue simulation (classic-queue-sim.ts) and sums them up;
 * shared by `npm run sim -- --queues` and the CI seed tests.
 */
import type { QueueSimConfig, QueueSimResult } from "./classic-queue-sim.js";
import { runQueueSimulation } from "./classic-queue-sim.js";
import { replayCommand } from "./seed-campaign.js";

export interface QueueCampaignSummary {
  seeds: number;
  faults: number;
  published: number;
  confirmed: number;
  deliveries: number;
  linksLost: number;
  failures: QueueSimResult[];
}

export function emptyQueueSummary(): QueueCampaignSummary {
  return {
    seeds: 0,
    faults: 0,
    published: 0,
    confirmed: 0,
    deliveries: 0,
    linksLost: 0,
    failures: [],
  };
}

export function addQueueResult(summary: QueueCampaignSummary, result: QueueSimResult): void {
  summary.seeds++;
  summary.faults += result.faults;
  summary.published += result.published;
  summary.confirmed += result.confirmed;
  summary.deliveries += result.deliveries;
  summary.linksLost += result.linksLost;
  if (result.violations.length > 0) summary.failures.push(result);
}

export function mergeQueueSummaries(into: QueueCampaignSummary, from: QueueCampaignSummary): void {
  into.seeds += from.seeds;
  into.faults += from.faults;
  into.published += from.published;
  into.confirmed += from.confirmed;
  into.deliveries += from.deliveries;
  into.linksLost += from.linksLost;
  into.failures.push(...from.failures);
}

/** Runs seeds firstSeed .. firstSeed + count - 1 with the same settings. */
export async function runQueueSeeds(
  firstSeed: number,
  count: number,
  config: Omit<QueueSimConfig, "seed"> = {},
): Promise<QueueCampaignSummary> {
  const summary = emptyQueueSummary();
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    addQueueResult(summary, await runQueueSimulation({ ...config, seed }));
  }
  return summary;
}

export function queueSummaryLine(summary: QueueCampaignSummary, elapsedMs: number): string {
  return (
    `queue sim: ${summary.seeds} seeds, ${summary.failures.length} with violations, ` +
    `${summary.faults} faults injected, ${summary.published} publishes ` +
    `(${summary.confirmed} confirmed), ${summary.deliveries} deliveries, ` +
    `${summary.linksLost} links lost, ${(elapsedMs / 1000).toFixed(1)}s`
  );
}

export function describeQueueFailure(
  result: QueueSimResult,
  extraArgs: readonly string[] = [],
): string {
  const first = result.violations[0]!;
  return (
    `queue seed ${result.seed} (${result.nodeCount} nodes) violated ${first.invariant} at ` +
    `${first.timeMs.toFixed(1)}ms: ${first.detail}\n` +
    `  replay: ${replayCommand(result.seed, ["--queues", ...extraArgs])}`
  );
}
