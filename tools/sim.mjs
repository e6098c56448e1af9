#!/usr/bin/env node
// Deterministic Raft cluster simulator. Build first (`npm run sim` does).
//
//   npm run sim -- --seeds 1000            run seeds 1..1000, print a one-line summary
//   npm run sim -- --seeds 100000 --from 5000 --jobs 2
//   npm run sim -- --seed 42 --trace       replay one seed, printing every fault and change
//   npm run sim -- --seeds 1000 --metadata  the first group is the metadata group (real
//                                          MetadataMachine over each node's definitions)
//   npm run sim -- --seeds 2000 --planted-bug send-before-persist
//                                          count the seeds a deliberate bug survives
//   npm run sim -- --queues --seeds 1000   the classic-queue simulation instead: real Brokers
//                                          forwarding to their queues' homes (docs/RAFT.md §6)
//   npm run sim -- --queues --seed 7 --trace
//   npm run sim -- --queues --seeds 300 --planted-bug home-requeues-on-cancel
//   npm run sim -- --quorum --seeds 1000   the quorum queue simulation: one quorum queue's Raft
//                                          group with publishers and consumers (docs/RAFT.md §6.6)
//   npm run sim -- --quorum --seed 7 --trace
//   npm run sim -- --quorum --seeds 1000 --planted-bug confirm-before-commit
//   npm run sim -- --quorum --seeds 1000 --max-length 20   x-max-length with reject-publish
// Options: --nodes N (3, 5, 7; default by seed), --groups N, --chaos-ms MS, --liveness-ms MS.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const simDir = new URL("../dist/test/sim/", import.meta.url);
const { runSimulation } = await import(new URL("cluster-sim.js", simDir));
const campaign = await import(new URL("seed-campaign.js", simDir));
const { plantedBug } = await import(new URL("planted-bugs.js", simDir));
const { runQueueSimulation } = await import(new URL("classic-queue-sim.js", simDir));
const queueCampaign = await import(new URL("queue-seed-campaign.js", simDir));
const { queuePlantedBug } = await import(new URL("queue-planted-bugs.js", simDir));
const { runQuorumSimulation } = await import(new URL("quorum-queue-sim.js", simDir));
const quorumCampaign = await import(new URL("quorum-queue-sim-campaign.js", simDir));
const { quorumPlantedBug } = await import(new URL("planted-bugs.js", simDir));

function quorumConfigFrom(values) {
  const config = {};
  if (values.nodes) config.nodeCount = Number(values.nodes);
  if (values["chaos-ms"]) config.chaosMs = Number(values["chaos-ms"]);
  if (values["liveness-ms"]) config.livenessMs = Number(values["liveness-ms"]);
  if (values["max-length"]) config.maxLength = Number(values["max-length"]);
  if (values["planted-bug"]) Object.assign(config, quorumPlantedBug(values["planted-bug"]).config);
  return config;
}

function queueConfigFrom(values) {
  const config = {};
  if (values.nodes) config.nodeCount = Number(values.nodes);
  if (values["chaos-ms"]) config.chaosMs = Number(values["chaos-ms"]);
  if (values["liveness-ms"]) config.livenessMs = Number(values["liveness-ms"]);
  if (values["planted-bug"]) Object.assign(config, queuePlantedBug(values["planted-bug"]).config);
  return config;
}

/** The simulation a run uses: the Raft cluster's (sync), the classic queues' (async) or the quorum queue's (sync). */
function flavour(values) {
  if (values.quorum) {
    return {
      config: quorumConfigFrom(values),
      run: runQuorumSimulation,
      campaign: {
        emptySummary: quorumCampaign.emptyQuorumSummary,
        addResult: quorumCampaign.addQuorumResult,
        mergeSummaries: quorumCampaign.mergeQuorumSummaries,
        summaryLine: quorumCampaign.quorumSummaryLine,
        describeFailure: quorumCampaign.describeQuorumFailure,
      },
    };
  }
  return values.queues
    ? {
        config: queueConfigFrom(values),
        run: runQueueSimulation,
        campaign: {
          emptySummary: queueCampaign.emptyQueueSummary,
          addResult: queueCampaign.addQueueResult,
          mergeSummaries: queueCampaign.mergeQueueSummaries,
          summaryLine: queueCampaign.queueSummaryLine,
          describeFailure: queueCampaign.describeQueueFailure,
        },
      }
    : { config: configFrom(values), run: runSimulation, campaign };
}

function configFrom(values) {
  const config = {};
  if (values.nodes) config.nodeCount = Number(values.nodes);
  if (values.groups) config.groupCount = Number(values.groups);
  if (values["chaos-ms"]) config.chaosMs = Number(values["chaos-ms"]);
  if (values["liveness-ms"]) config.livenessMs = Number(values["liveness-ms"]);
  if (values.metadata) config.metadata = true;
  if (values["planted-bug"]) Object.assign(config, plantedBug(values["planted-bug"]).config);
  return config;
}

/** The options that change a run, to repeat in a replay command. */
function replayArgs(values) {
  const args = [];
  for (const name of ["nodes", "groups", "chaos-ms", "liveness-ms", "planted-bug", "max-length"]) {
    if (values[name]) args.push(`--${name}`, values[name]);
  }
  if (values.metadata) args.push("--metadata");
  return args;
}

async function runRange(values, from, count, stopAtFirst) {
  const { config, run, campaign } = flavour(values);
  const summary = campaign.emptySummary();
  for (let seed = from; seed < from + count; seed++) {
    const result = await run({ ...config, seed });
    campaign.addResult(summary, result);
    if (stopAtFirst && result.violations.length > 0) break;
  }
  // Functions do not cross threads; violations are plain data.
  return summary;
}

if (!isMainThread) {
  const { values, from, count, stopAtFirst } = workerData;
  parentPort.postMessage(await runRange(values, from, count, stopAtFirst));
} else {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      from: { type: "string", default: "1" },
      jobs: { type: "string" },
      nodes: { type: "string" },
      groups: { type: "string" },
      "chaos-ms": { type: "string" },
      "liveness-ms": { type: "string" },
      "planted-bug": { type: "string" },
      "max-length": { type: "string" },
      metadata: { type: "boolean", default: false },
      queues: { type: "boolean", default: false },
      quorum: { type: "boolean", default: false },
      "stop-at-first": { type: "boolean", default: false },
      trace: { type: "boolean", default: false },
    },
  });
  const started = Date.now();
  const { config, run, campaign } = flavour(values);
  if (values.seed !== undefined) {
    const trace = values.trace ? (line) => console.log(line) : undefined;
    const result = await run({ ...config, seed: Number(values.seed), trace });
    const summary = campaign.emptySummary();
    campaign.addResult(summary, result);
    console.log(campaign.summaryLine(summary, Date.now() - started));
    for (const failure of summary.failures) {
      console.log(campaign.describeFailure(failure, replayArgs(values)));
      for (const v of failure.violations.slice(1))
        console.log(`  also ${v.invariant}: ${v.detail}`);
    }
    process.exit(summary.failures.length > 0 ? 1 : 0);
  }
  const seeds = Number(values.seeds ?? 1000);
  const from = Number(values.from);
  const jobs = Math.max(1, Math.min(Number(values.jobs ?? availableParallelism()), seeds));
  const share = Math.ceil(seeds / jobs);
  const parts = [];
  for (let job = 0; job < jobs; job++) {
    const start = from + job * share;
    const count = Math.min(share, from + seeds - start);
    if (count <= 0) continue;
    parts.push(
      new Promise((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), {
          workerData: { values, from: start, count, stopAtFirst: values["stop-at-first"] },
        });
        worker.once("message", resolve);
        worker.once("error", reject);
      }),
    );
  }
  const summary = campaign.emptySummary();
  for (const part of await Promise.all(parts)) campaign.mergeSummaries(summary, part);
  summary.failures.sort((a, b) => a.seed - b.seed);
  console.log(campaign.summaryLine(summary, Date.now() - started));
  for (const failure of summary.failures.slice(0, 20)) {
    console.log(campaign.describeFailure(failure, replayArgs(values)));
  }
  if (summary.failures.length > 20) console.log(`  ... and ${summary.failures.length - 20} more`);
  process.exit(summary.failures.length > 0 ? 1 : 0);
}
