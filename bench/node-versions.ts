#!/usr/bin/env node
// npm run bench:node-versions [-- --versions 20,22,24 --only a,b --rounds N --duration S]
// Runs Warren under each Node.js version on the same scenarios, on this machine in one run,
// and rewrites the "Node.js versions" section of docs/benchmarks.md. RabbitMQ is not needed:
// the figure to quote is each version against Node 20. Not a test: nothing here runs in CI.
import { mkdtempSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { machineInfo } from "./lib/machine.js";
import { type NodeBinary, nodeBinary } from "./lib/node-binary.js";
import {
  type NodeVersionRun,
  type NodeVersionsRecord,
  type NodeVersionsScenario,
  roundOrder,
  saveNodeVersions,
} from "./lib/node-versions-results.js";
import { BENCH_PATHS, formatBenchOutputs, writeBenchmarksPage } from "./lib/report-file.js";
import { PeakSampler } from "./lib/rss-sampler.js";
import type { BenchContext, Metric, Scenario, StartedBroker } from "./lib/scenario.js";
import { killAllTracked, killTrackedOnExit, onExitCleanup } from "./lib/tracked-processes.js";
import { startWarren } from "./lib/warren-broker.js";
import { HEADLINE } from "./scenarios/catalog.js";
import { FANOUT_CLIENTS_SCENARIOS } from "./scenarios/fanout-clients.js";
import { LOAD_SCENARIOS } from "./scenarios/load-scenarios.js";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** Scenarios that need nothing but a fresh broker (the durable-storage ones restart it). */
const CANDIDATES: readonly Scenario[] = [...LOAD_SCENARIOS, ...FANOUT_CLIENTS_SCENARIOS];
/** Issue 14's main scenarios: transient, persistent with confirms, fanout. */
const DEFAULT_SCENARIOS = ["transient-16b", "persistent-1k", "fanout-16b-10q"];

/**
 * The headline rate per second of broker CPU: what the runtime gets done with the CPU it was
 * given. On a shared 2-core machine the rate itself mostly says how much CPU the broker got.
 */
const PER_CPU_KEY = "perBrokerCpuS";

function perCpuMetric(s: Scenario, headline: string): Metric | undefined {
  const m = s.metrics.find((x) => x.key === headline);
  if (m?.unit !== "msg/s" || !s.metrics.some((x) => x.key === "brokerCpu")) return undefined;
  return {
    key: PER_CPU_KEY,
    label: `${m.label} per broker CPU-second`,
    unit: "msgs",
    better: "higher",
  };
}

function perCpu(values: Readonly<Record<string, number | undefined>>, headline: string) {
  const rate = values[headline];
  const cores = values.brokerCpu;
  return rate !== undefined && cores ? Math.round(rate / cores) : undefined;
}

/** Figures every run adds to its scenario's own. */
const RUN_METRICS: readonly Metric[] = [
  { key: "startMs", label: "start: spawn to listening", unit: "ms", better: "lower" },
  { key: "peakRssMiB", label: "broker RSS at its highest", unit: "MiB", better: "lower" },
  {
    key: "loadAvg",
    label: "1-minute load average before the run",
    unit: "runnable tasks",
    better: "neither",
  },
];

const USAGE = `Usage: npm run bench:node-versions [-- options]

  --versions LIST   Node.js majors, the first is the baseline (default 20,22,24)
  --only IDS        comma-separated scenario ids (default ${DEFAULT_SCENARIOS.join(",")});
                    any of: ${CANDIDATES.map((s) => s.id).join(", ")}
  --rounds N        runs of each scenario per version (default 3)
  --duration S      seconds per load run (default 20)
  --no-report       do not rewrite docs/benchmarks.md (the results are still kept)
`;

function parse() {
  const { values } = parseArgs({
    options: {
      versions: { type: "string", default: "20,22,24" },
      only: { type: "string" },
      rounds: { type: "string", default: "3" },
      duration: { type: "string", default: "20" },
      "no-report": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const list = (s: string) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    help: values.help,
    noReport: values["no-report"],
    versions: list(values.versions),
    only: values.only ? list(values.only) : DEFAULT_SCENARIOS,
    rounds: Number(values.rounds),
    durationS: Number(values.duration),
  };
}

const headlineOf = (s: Scenario) => HEADLINE[s.id] ?? s.metrics[0]!.key;

/** The bench asked for this binary; check the broker really runs it (/proc/PID/exe). */
function checkBinary(pid: number, node: NodeBinary): void {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  if (exe !== realpathSync(node.path))
    throw new Error(`Warren runs ${exe}, not Node ${node.major}'s ${node.path}`);
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const chosen = args.only.map((id) => CANDIDATES.find((s) => s.id === id));
  const bad =
    (chosen.some((s) => !s) && `unknown scenario in --only ${args.only.join(",")}`) ||
    (!args.versions.every((v) => /^\d+$/.test(v)) && "--versions takes majors: 20,22,24") ||
    (!(args.rounds >= 1 && args.durationS >= 1) && "--rounds and --duration take numbers >= 1");
  if (bad) {
    process.stderr.write(`${bad}\n\n${USAGE}`);
    return 64;
  }
  const scenarios = chosen as Scenario[];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const binaries = args.versions.map((major) => nodeBinary(major));
  for (const b of binaries) log(`Node ${b.major}: ${b.version} (${b.path})`);

  killTrackedOnExit();
  const workDir = mkdtempSync(join(os.tmpdir(), "warren-bench-node-"));
  onExitCleanup(() => rmSync(workDir, { recursive: true, force: true }));
  const startedAt = new Date().toISOString();
  const runs = new Map(
    scenarios.map((s) => [s.id, new Map(binaries.map((b) => [b.major, [] as NodeVersionRun[]]))]),
  );
  const notes = new Map(scenarios.map((s) => [s.id, [] as string[]]));
  const record = (): NodeVersionsRecord => ({
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(REPO_ROOT),
    versions: binaries.map(({ major, version }) => ({ major, version })),
    baseline: binaries[0]!.major,
    rounds: args.rounds,
    durationS: args.durationS,
    scenarios: scenarios.map((s): NodeVersionsScenario => {
      const headline = headlineOf(s);
      const perCpuFigure = perCpuMetric(s, headline);
      return {
        id: s.id,
        title: s.title,
        summary: perCpuFigure ? [headline, perCpuFigure.key] : [headline],
        metrics: [...s.metrics, ...(perCpuFigure ? [perCpuFigure] : []), ...RUN_METRICS],
        runs: Object.fromEntries(runs.get(s.id)!),
        notes: notes.get(s.id)!,
      };
    }),
  });

  let current = binaries[0]!;
  let runExtras: Record<string, number> = {};
  const ctx: BenchContext = {
    repoRoot: REPO_ROOT,
    workDir,
    durationS: args.durationS,
    idleConnections: 0,
    restartMessages: 0,
    rssMessages: 0,
    log,
    startBroker: async (kind, options): Promise<StartedBroker> => {
      if (kind !== "warren") throw new Error("the Node.js comparison runs Warren only");
      const started = await startWarren(REPO_ROOT, workDir, { ...options, node: current.path });
      checkBinary(started.broker.pid, current);
      const peak = new PeakSampler(() => started.broker.rssBytes(), 500);
      runExtras = { startMs: Math.round(started.startMs) };
      const stop = async () => {
        runExtras.peakRssMiB = Math.round(peak.stop() / 2 ** 20);
        await started.broker.stop();
      };
      return { ...started, broker: { ...started.broker, stop } };
    },
  };

  try {
    for (let round = 0; round < args.rounds; round++) {
      for (const scenario of scenarios) {
        for (const node of roundOrder(binaries, round)) {
          current = node;
          const label = `${scenario.id}, Node ${node.major}, round ${round + 1}/${args.rounds}`;
          log(`== ${label}`);
          const loadAvg = Math.round(os.loadavg()[0]! * 100) / 100;
          try {
            const outcome = await scenario.run(ctx, "warren");
            const values = {
              ...outcome.values,
              [PER_CPU_KEY]: perCpu(outcome.values, headlineOf(scenario)),
              ...runExtras,
              loadAvg,
            };
            runs
              .get(scenario.id)!
              .get(node.major)!
              .push({ round: round + 1, values });
            for (const n of outcome.notes) notes.get(scenario.id)!.push(`${label}: ${n}`);
            log(`== ${label}: ${JSON.stringify(values)}`);
          } catch (e) {
            log(`== ${label} failed: ${(e as Error).stack ?? e}`);
            notes.get(scenario.id)!.push(`${label} failed: ${(e as Error).message.split("\n")[0]}`);
          }
          // Kept after every run: an interrupted comparison still has what it measured.
          saveNodeVersions(join(REPO_ROOT, BENCH_PATHS.nodeVersions), record());
        }
      }
    }
  } finally {
    killAllTracked();
    rmSync(workDir, { recursive: true, force: true });
  }
  if (!args.noReport) log(`wrote ${writeBenchmarksPage(REPO_ROOT)}`);
  formatBenchOutputs(REPO_ROOT);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    killAllTracked();
    process.exit(1);
  },
);
