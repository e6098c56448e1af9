/**
 * Runs many simulation seeds and sums them up; shared by `npm run sim` and the CI test.
 */
import type { SimConfig, SimResult } from "./cluster-sim.js";
import { runSimulation } from "./cluster-sim.js";

export interface CampaignSummary {
  seeds: number;
  faults: number;
  committedEntries: number;
  confirmed: number;
  elections: number;
  membershipChanges: number;
  messages: number;
  failures: SimResult[];
}

export function emptySummary(): CampaignSummary {
  return {
    seeds: 0,
    faults: 0,
    committedEntries: 0,
    confirmed: 0,
    elections: 0,
    membershipChanges: 0,
    messages: 0,
    failures: [],
  };
}

export function addResult(summary: CampaignSummary, result: SimResult): void {
  summary.seeds++;
  summary.faults += result.faults;
  summary.committedEntries += result.committedEntries;
  summary.confirmed += result.confirmed;
  summary.elections += result.elections;
  summary.membershipChanges += result.membershipChanges;
  summary.messages += result.messages;
  if (result.violations.length > 0) summary.failures.push(result);
}

export function mergeSummaries(into: CampaignSummary, from: CampaignSummary): void {
  into.seeds += from.seeds;
  into.faults += from.faults;
  into.committedEntries += from.committedEntries;
  into.confirmed += from.confirmed;
  into.elections += from.elections;
  into.membershipChanges += from.membershipChanges;
  into.messages += from.messages;
  into.failures.push(...from.failures);
}

/** Runs seeds firstSeed .. firstSeed + count - 1 with the same settings. */
export function runSeeds(
  firstSeed: number,
  count: number,
  config: Omit<SimConfig, "seed"> = {},
): CampaignSummary {
  const summary = emptySummary();
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    addResult(summary, runSimulation({ ...config, seed }));
  }
  return summary;
}

export function summaryLine(summary: CampaignSummary, elapsedMs: number): string {
  return (
    `sim: ${summary.seeds} seeds, ${summary.failures.length} with violations, ` +
    `${summary.faults} faults injected, ${summary.committedEntries} entries committed ` +
    `(${summary.confirmed} client proposals confirmed), ${summary.elections} elections, ` +
    `${summary.membershipChanges} membership changes, ${summary.messages} messages, ` +
    `${(elapsedMs / 1000).toFixed(1)}s`
  );
}

/** The command that replays one seed with the same settings, tracing every event. */
export function replayCommand(seed: number, extraArgs: readonly string[] = []): string {
  return ["npm run sim --", "--seed", String(seed), ...extraArgs, "--trace"].join(" ");
}

export function describeFailure(result: SimResult, extraArgs: readonly string[] = []): string {
  const first = result.violations[0];
  return (
    `seed ${result.seed} (${result.nodeCount} nodes) violated ${first.invariant} in group ` +
    `${first.groupId} at ${first.timeMs.toFixed(1)}ms: ${first.detail}\n` +
    `  replay: ${replayCommand(result.seed, extraArgs)}`
  );
}
