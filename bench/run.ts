#!/usr/bin/env node
// npm run bench [-- --only a,b --duration S --brokers warren,rabbitmq --list]
// Runs the scenarios against Warren and (when installed) RabbitMQ, one broker at a time,
// and rewrites docs/benchmarks.md. Not a test: nothing here runs in CI.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BROKER_NAMES, type BrokerKind } from "./lib/broker.js";
import {
  erlangVersion,
  PrivateEpmd,
  rabbitmqInstalled,
  rabbitmqVersion,
  startRabbitMq,
} from "./lib/rabbitmq-broker.js";
import { renderReport } from "./lib/report.js";
import { loadResults, type MachineInfo, mergeScenario, saveResults } from "./lib/results.js";
import type { BenchContext, Scenario, StartedBroker } from "./lib/scenario.js";
import { killAllTracked, killTrackedOnExit, onExitCleanup } from "./lib/tracked-processes.js";
import { startWarren } from "./lib/warren-broker.js";
import { RESTART_1M, RSS_5M } from "./scenarios/durable-storage.js";
import { FANOUT_CLIENTS_SCENARIOS } from "./scenarios/fanout-clients.js";
import { IDLE_CONNECTIONS } from "./scenarios/idle-connections.js";
import { LOAD_SCENARIOS } from "./scenarios/load-scenarios.js";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS_PATH = join(REPO_ROOT, "bench/results/latest.json");
const PLOTS_DIR = "bench/results/plots";
const REPORT_PATH = join(REPO_ROOT, "docs/benchmarks.md");
const OBSERVATIONS_PATH = join(REPO_ROOT, "bench/observations.md");

const SCENARIOS: readonly Scenario[] = [
  ...LOAD_SCENARIOS,
  ...FANOUT_CLIENTS_SCENARIOS,
  IDLE_CONNECTIONS,
  RESTART_1M,
  RSS_5M,
];

/** The figure each scenario's line in the summary table shows. */
const HEADLINE: Record<string, string> = {
  "transient-16b": "received",
  "persistent-1k": "confirmed",
  "fanout-16b-10q": "received",
  "fanout-clients-10q": "received",
  "store-16b": "sent",
  "latency-2000": "p99",
  "queues-1000": "received",
  "idle-10k": "perConn",
  "restart-1m": "readyMs",
  "rss-5m": "rssQueued",
};

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

function machineInfo(): MachineInfo {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: REPO_ROOT,
    }).toString();
    if (dirty.trim()) commit += "+changes";
  } catch {
    // not a git checkout
  }
  let osName = os.type();
  try {
    osName =
      /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? osName;
  } catch {
    // keep os.type()
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    os: osName,
    node: process.version,
    warrenCommit: commit,
    rabbitmq: rabbitmqInstalled() ? rabbitmqVersion() : undefined,
    erlang: rabbitmqInstalled() ? erlangVersion() : undefined,
  };
}

/** Formats what the bench wrote with the project's formatter, so `npm test`'s lint stays clean. */
function formatOutputs(): void {
  try {
    execFileSync(
      join(REPO_ROOT, "node_modules/.bin/biome"),
      ["check", "--write", "bench/results"],
      { cwd: REPO_ROOT, stdio: "ignore" },
    );
  } catch {
    // Formatting is a courtesy; the figures are written either way.
  }
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
  const machine = machineInfo();
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
  if (!args["no-report"]) {
    const observations = existsSync(OBSERVATIONS_PATH)
      ? readFileSync(OBSERVATIONS_PATH, "utf8")
      : "(no observations written yet)";
    writeFileSync(
      REPORT_PATH,
      renderReport({
        results,
        order: SCENARIOS.map((s) => s.id),
        observations,
        headlineMetric: HEADLINE,
      }),
    );
    log(`wrote ${REPORT_PATH}`);
  }
  formatOutputs();
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
