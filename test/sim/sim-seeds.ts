/**
 * The CI simulation campaign, split across test files so node:test runs them on two cores,
 * each within its own time limit. Each runs its seeds and fails with the seed and replay
 * command of every run that broke an invariant. Every Raft seed runs the metadata group for
 * real: the first group's entries are metadata commands applied to each node's definitions
 * (metadata-sim-machine.ts). The queue seeds run the classic-queue simulation
 * (classic-queue-sim.ts): real Brokers forwarding to their queues' homes over the simulated
 * network.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeQueueFailure, queueSummaryLine, runQueueSeeds } from "./queue-seed-campaign.js";
import { describeFailure, runSeeds, summaryLine } from "./seed-campaign.js";

/** Seeds CI runs in total, split evenly over the halves. */
export const CI_SEEDS = 1000;

export function simulateSeedRange(firstSeed: number, count: number): void {
  const lastSeed = firstSeed + count - 1;
  test(`seeds ${firstSeed}..${lastSeed}: every invariant holds and every healed cluster makes progress`, () => {
    const started = Date.now();
    const summary = runSeeds(firstSeed, count, { metadata: true });
    console.log(summaryLine(summary, Date.now() - started));
    const failures = summary.failures.map((result) => describeFailure(result, ["--metadata"]));
    assert.deepEqual(failures, [], failures.join("\n"));
  });
}

export function simulateQueueSeedRange(firstSeed: number, count: number): void {
  const lastSeed = firstSeed + count - 1;
  test(`queue seeds ${firstSeed}..${lastSeed}: classic queues forwarded over a faulty network lose no confirmed message, deliver each to one holder at a time, keep prefetch and settle once`, async () => {
    const started = Date.now();
    const summary = await runQueueSeeds(firstSeed, count);
    console.log(queueSummaryLine(summary, Date.now() - started));
    const failures = summary.failures.map((result) => describeQueueFailure(result));
    assert.deepEqual(failures, [], failures.join("\n"));
  });
}
