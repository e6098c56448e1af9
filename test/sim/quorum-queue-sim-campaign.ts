/**
 * Runs many seeds of the quorum queue simulation (quorum-queue-sim.ts) and sums them up;
 * shared by `npm run sim -- --quorum` and the CI seed tests (sim-quorum-seeds-*.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { QuorumSimConfig, QuorumSimResult } from "./quorum-queue-sim.js";
import { runQuorumSimulation } from "./quorum-queue-sim.js";
import { replayCommand } from "./seed-campaign.js";

/** Quorum queue seeds CI runs in total, split evenly over the test files. */
export const QUORUM_CI_SEEDS = 1000;
export const QUORUM_CI_FILES = 4;

export interface QuorumCampaignSummary {
  seeds: number;
  faults: number;
  published: number;
  confirmed: number;
  deliveries: number;
  redeliveries: number;
  nodeDowns: number;
  elections: number;
  failures: QuorumSimResult[];
}

export function emptyQuorumSummary(): QuorumCampaignSummary {
  return {
    seeds: 0,
    faults: 0,
    published: 0,
    confirmed: 0,
    deliveries: 0,
    redeliveries: 0,
    nodeDowns: 0,
    elections: 0,
    failures: [],
  };
}

export function addQuorumResult(summary: QuorumCampaignSummary, result: QuorumSimResult): void {
  summary.seeds++;
  summary.faults += result.faults;
  summary.published += result.published;
  summary.confirmed += result.confirmed;
  summary.deliveries += result.deliveries;
  summary.redeliveries += result.redeliveries;
  summary.nodeDowns += result.nodeDowns;
  summary.elections += result.elections;
  if (result.violations.length > 0) summary.failures.push(result);
}

export function mergeQuorumSummaries(
  into: QuorumCampaignSummary,
  from: QuorumCampaignSummary,
): void {
  into.seeds += from.seeds;
  into.faults += from.faults;
  into.published += from.published;
  into.confirmed += from.confirmed;
  into.deliveries += from.deliveries;
  into.redeliveries += from.redeliveries;
  into.nodeDowns += from.nodeDowns;
  into.elections += from.elections;
  into.failures.push(...from.failures);
}

/** Runs seeds firstSeed .. firstSeed + count - 1 with the same settings. */
export function runQuorumSeeds(
  firstSeed: number,
  count: number,
  config: Omit<QuorumSimConfig, "seed"> = {},
): QuorumCampaignSummary {
  const summary = emptyQuorumSummary();
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    addQuorumResult(summary, runQuorumSimulation({ ...config, seed }));
  }
  return summary;
}

export function quorumSummaryLine(summary: QuorumCampaignSummary, elapsedMs: number): string {
  return (
    `quorum queue sim: ${summary.seeds} seeds, ${summary.failures.length} with violations, ` +
    `${summary.faults} faults injected, ${summary.published} publishes ` +
    `(${summary.confirmed} confirmed), ${summary.deliveries} deliveries ` +
    `(${summary.redeliveries} redelivered), ${summary.nodeDowns} node-downs, ` +
    `${summary.elections} elections, ${(elapsedMs / 1000).toFixed(1)}s`
  );
}

export function describeQuorumFailure(
  result: QuorumSimResult,
  extraArgs: readonly string[] = [],
): string {
  const first = result.violations[0]!;
  return (
    `quorum seed ${result.seed} (${result.nodeCount} nodes) violated ${first.invariant} at ` +
    `${first.timeMs.toFixed(1)}ms: ${first.detail}\n` +
    `  replay: ${replayCommand(result.seed, ["--quorum", ...extraArgs])}`
  );
}

/** One CI test over a share of the seeds: part is 1..QUORUM_CI_FILES. */
export function simulateQuorumSeedShare(part: number): void {
  const count = QUORUM_CI_SEEDS / QUORUM_CI_FILES;
  const firstSeed = (part - 1) * count + 1;
  const lastSeed = firstSeed + count - 1;
  test(`quorum queue seeds ${firstSeed}..${lastSeed}: under partitions, crashes and message loss no confirmed publish is lost, nothing is delivered again while held, redeliveries say so, and replicas agree`, () => {
    const started = Date.now();
    const summary = runQuorumSeeds(firstSeed, count);
    console.log(quorumSummaryLine(summary, Date.now() - started));
    const failures = summary.failures.map((result) => describeQuorumFailure(result));
    assert.deepEqual(failures, [], failures.join("\n"));
  });
}
