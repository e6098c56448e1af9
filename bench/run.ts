#!/usr/bin/env node
// npm run bench [-- --only a,b --duration S --brokers warren,rabbitmq --list]
// Runs the scenarios against Warren and (when installed) RabbitMQ, one broker at a time,
// and rewrites docs/benchmarks.md. Not a test: nothing here runs in CI.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BROKER_NAMES, type BrokerKind } from "./lib/broker.js";
import { machineInfo } from "./lib/machine.js";
import { PrivateEpmd, rabbitmqInstalled, startRabbitMq } from "./lib/rabbitmq-broker.js";
import { BENCH_PATHS, formatBenchOutputs, writeBenchmarksPage } from "./lib/report-file.js";
import { loadResults, mergeScenario, saveResults } from "./lib/results.js";
import type { BenchContext, StartedBroker } from "./lib/scenario.js";
import { killAllTracked, killTrackedOnExit, onExitCleanup } from "./lib/tracked-processes.js";
import { startWarren } from "./lib/warren-broker.js";
import { SCENARIOS } from "./scenarios/catalog.js";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS_PATH = join(REPO_ROOT, BENCH_PATHS.results);
const PLOTS_DIR = BENCH_PATHS.plots;

const LOAD_AVERAGE = {
  key: "loadAvg",
  label: "1-minute load average before the run",
  unit: "runnable tasks",
  better: "neither" as const,
};

const USAGE = `Usage: npm run bench [-- options]

  --only IDS            comma-separated scenario ids (opt-in ones run only when named)
  --list                list the scenarios and exit
  --duration S          seconds per load run (default 20)
  --brokers LIST        warren,rabbitmq (default: both, RabbitMQ when installed)
  --idle-connections N  connections for idle-10k (default 10000)
  --restart-messages N  messages queued in restart-1m (default 1000000)
  --rss-messages N      messages queued in rss-5m (default 5000000)
  --no-report           do not rewrite docs/benchmarks.md (results are still kept)
  --report-only         run nothing: rewrite docs/benchmarks.md from the kept results
`;

function parse() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      list: { type: "boolean" },
      duration: { type: "string" },
      brokers: { type: "string" },
      "idle-connections": { type: "string" },
      "restart-messages": { type: "string" },
      "rss-messages": { type: "string" },
      "no-report": { type: "boolean" },
      "report-only": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  return values;
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.list) {
    for (const s of SCENARIOS)
      process.stdout.write(`${s.id.padEnd(16)} ${s.optIn ? "(opt-in) " : ""}${s.title}\n`);
    return 0;
  }
  const only = args.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(", ")}\n\n${USAGE}`);
    return 64;
  }
  const chosen = args["report-only"]
    ? []
    : SCENARIOS.filter((s) => (only ? only.includes(s.id) : !s.optIn));
  const durationS = Number(args.duration ?? 20);
  const idleConnections = Number(args["idle-connections"] ?? 10_000);
  const wanted = (args.brokers ?? "warren,rabbitmq").split(",") as BrokerKind[];
  const brokers: BrokerKind[] = wanted.filter((b) => b === "warren" || b === "rabbitmq");
  const notes: string[] = [];
  if (brokers.includes("rabbitmq") && !rabbitmqInstalled()) {
    brokers.splice(brokers.indexOf("rabbitmq"), 1);
    notes.push("RabbitMQ is not installed (Debian's rabbitmq-server): its column was not run.");
  }
  if (!existsSync(join(REPO_ROOT, "dist/src/cli/warren.js"))) {
    process.stderr.write("dist/ is missing: run `npm run build` (npm run bench does it)\n");
    return 2;
  }
  killTrackedOnExit();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const workDir = mkdtempSync(join(os.tmpdir(), "warren-bench-"));
  onExitCleanup(() => rmSync(workDir, { recursive: true, force: true }));
  let epmd: PrivateEpmd | undefined;
  const machine = machineInfo(REPO_ROOT);
  const results = loadResults(RESULTS_PATH);
  mkdirSync(join(REPO_ROOT, PLOTS_DIR), { recursive: true });
  try {
    const ctx: BenchContext = {
      repoRoot: REPO_ROOT,
      workDir,
      durationS,
      idleConnections,
      restartMessages: Number(args["restart-messages"] ?? 1_000_000),
      rssMessages: Number(args["rss-messages"] ?? 5_000_000),
      log,
      startBroker: async (kind, options): Promise<StartedBroker> => {
        if (kind === "warren") return startWarren(REPO_ROOT, workDir, options);
        epmd ??= await PrivateEpmd.start();
        return startRabbitMq(workDir, epmd, options);
      },
    };
    for (const scenario of chosen) {
      const values: Partial<Record<BrokerKind, Record<string, number | undefined>>> = {};
      const scenarioNotes = [...notes];
      const plots: { warren?: string; rabbitmq?: string } = {};
      for (const kind of brokers) {
        log(`== ${scenario.id}: ${BROKER_NAMES[kind]}`);
        // Other work on a shared machine skews figures; say how busy it was.
        const loadAvg = Math.round(os.loadavg()[0]! * 100) / 100;
        try {
          const outcome = await scenario.run(ctx, kind);
          values[kind] = { ...outcome.values, loadAvg };
          scenarioNotes.push(...outcome.notes);
          if (outcome.plotSvg) {
            const rel = `${PLOTS_DIR}/${scenario.id}-${kind}.svg`;
            writeFileSync(join(REPO_ROOT, rel), outcome.plotSvg);
            plots[kind] = rel;
          }
          log(`== ${scenario.id}: ${BROKER_NAMES[kind]}: ${JSON.stringify(outcome.values)}`);
        } catch (e) {
          log(`== ${scenario.id}: ${BROKER_NAMES[kind]} failed: ${(e as Error).stack ?? e}`);
          scenarioNotes.push(
            `${BROKER_NAMES[kind]} run failed: ${(e as Error).message.split("\n")[0]}`,
          );
        }
      }
      results.scenarios[scenario.id] = mergeScenario(
        results.scenarios[scenario.id],
        {
          id: scenario.id,
          title: scenario.title,
          description: scenario.description,
          optIn: scenario.optIn,
          ranAt: new Date().toISOString(),
          machine,
          metrics: [...scenario.metrics, LOAD_AVERAGE],
          warren: values.warren,
          rabbitmq: values.rabbitmq,
          notes: scenarioNotes,
          plots,
        },
        brokers,
      );
      saveResults(RESULTS_PATH, results);
    }
  } finally {
    await epmd?.stop();
    killAllTracked();
    rmSync(workDir, { recursive: true, force: true });
  }
  if (!args["no-report"]) log(`wrote ${writeBenchmarksPage(REPO_ROOT)}`);
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
