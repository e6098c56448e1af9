#!/usr/bin/env node
// npm run bench:quorum [-- --duration S --brokers warren,rabbitmq --nodes 1,3 ...]
// Quorum queues, Warren against Debian's RabbitMQ (issue 17): 1 KiB persistent messages
// with publisher confirms into one quorum queue, on one node and on a 3-node cluster on
// loopback, with and without a consumer; and the disk's fdatasync rate, the bound of a
// log that commits one batch per fsync. Prints a table, keeps bench/results/quorum.json.
// Not a test: nothing here runs in CI. See bench/QUORUM.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { AmqpClient } from "../src/perf/amqp-client.js";
import { queueArgsTable } from "../src/perf/topology.js";
import { BROKER_NAMES, type BrokerKind, type RunningBroker } from "./lib/broker.js";
import { type FsyncRate, measureFsyncRate } from "./lib/fsync-rate.js";
import { runLoadTool } from "./lib/load-tool.js";
import { machineInfo } from "./lib/machine.js";
import {
  loadQuorumResults,
  MODE_NAMES,
  mergeRuns,
  type QuorumMode,
  type QuorumParams,
  type QuorumResults,
  type QuorumRun,
  renderFsyncBound,
  renderFsyncReading,
  renderFsyncSpread,
  renderQuorumTable,
  renderUnavailable,
} from "./lib/quorum-results.js";
import { PrivateEpmd, rabbitmqInstalled } from "./lib/rabbitmq-broker.js";
import { startRabbitCluster } from "./lib/rabbitmq-cluster.js";
import { formatBenchOutputs } from "./lib/report-file.js";
import { killAllTracked, killTrackedOnExit, onExitCleanup } from "./lib/tracked-processes.js";
import { startWarrenCluster } from "./lib/warren-cluster.js";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const RESULTS_PATH = join(REPO_ROOT, "bench/results/quorum.json");

const USAGE = `Usage: npm run bench:quorum [-- options]

  --duration S        seconds per load run (default 15)
  --brokers LIST      warren,rabbitmq (default both; RabbitMQ when installed)
  --nodes LIST        cluster sizes, e.g. 1,3 (default 1,3)
  --modes LIST        publish,publish-consume (default both)
  --publishers N      publisher connections (default 8)
  --confirm N         unconfirmed messages per publisher (default 128)
  --prefetch N        the consumer's basic.qos (default 1000)
  --multi-ack-every N the consumer acks every N messages, multiple=true (default 50)
  --fsync-seconds S   seconds per fdatasync probe (default 3)
  --timeout S         kill everything and fail after S seconds in all (default 900)
  --no-save           print the table, keep bench/results/quorum.json as it was
`;

const SIZE_BYTES = 1024;

function list(text: string | undefined, fallback: string): string[] {
  return (text ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function parse() {
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      brokers: { type: "string" },
      nodes: { type: "string" },
      modes: { type: "string" },
      publishers: { type: "string" },
      confirm: { type: "string" },
      prefetch: { type: "string" },
      "multi-ack-every": { type: "string" },
      "fsync-seconds": { type: "string" },
      timeout: { type: "string" },
      "no-save": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  return values;
}

/** The quorum queue's arguments: on a cluster, a member on every node and the leader local. */
function queueArgs(nodes: number): Map<string, string | number> {
  const args = new Map<string, string | number>([["x-queue-type", "quorum"]]);
  if (nodes > 1) {
    args.set("x-quorum-initial-group-size", nodes);
    args.set("x-queue-leader-locator", "client-local");
  }
  return args;
}

/**
 * Declares (and deletes) a quorum queue as the runs will: the broker's answer when it
 * refuses (Warren before its quorum queues landed), undefined when it takes it.
 */
async function quorumRefusal(
  url: string,
  nodes: number,
  check?: (queue: string) => Promise<void>,
): Promise<string | undefined> {
  const client = await AmqpClient.connect(url, { connectTimeoutMs: 10_000 });
  try {
    const ch = await client.openChannel();
    try {
      await ch.declareQueue("qq-bench-probe", {
        durable: true,
        args: queueArgsTable(queueArgs(nodes)),
      });
    } catch (e) {
      return (e as Error).message;
    }
    await check?.("qq-bench-probe");
    await ch.deleteQueue("qq-bench-probe");
    return undefined;
  } finally {
    await client.close().catch(() => {});
  }
}

function logTail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** The last error in a node's log: an uncaught exception's line, a JSON entry of level 50 or more. */
function lastError(path: string): string {
  const lines = logTail(path, 200).split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (/^[A-Za-z]*Error: /.test(line)) return line;
    try {
      const entry = JSON.parse(line) as {
        level?: number;
        msg?: string;
        err?: { message?: string };
      };
      if ((entry.level ?? 0) >= 50) return `${entry.msg ?? ""} ${entry.err?.message ?? ""}`.trim();
    } catch {
      // stderr, not JSON
    }
  }
  return lines.at(-1) ?? "";
}

/**
 * Which Warren node's replica of `queue` led last, from the nodes' "this node's replica
 * leads now" lines (Warren picks the members client-local, the leader by election).
 */
function warrenLeader(
  nodes: readonly { name: string; logPath?: string }[],
  queue: string,
): string | undefined {
  if (nodes.length < 2) return undefined;
  let latest: { node: string; time: number } | undefined;
  for (const n of nodes) {
    if (n.logPath === undefined) continue;
    for (const line of logTail(n.logPath, 100_000).split("\n")) {
      if (!line.includes(`quorum queue '${queue}'`) || !line.includes("leads now")) continue;
      try {
        const time = (JSON.parse(line) as { time?: number }).time ?? 0;
        if (latest === undefined || time > latest.time) latest = { node: n.name, time };
      } catch {
        // not a log entry
      }
    }
  }
  return latest?.node;
}

interface Plan {
  readonly params: QuorumParams;
  readonly workDir: string;
  readonly log: (line: string) => void;
}

const cpuOf = (brokers: readonly RunningBroker[]) =>
  brokers.reduce((sum, b) => sum + b.cpuSeconds(), 0);

/** One load run against node 1 of a started broker. */
async function loadRun(
  plan: Plan,
  kind: BrokerKind,
  brokers: readonly RunningBroker[],
  mode: QuorumMode,
): Promise<QuorumRun> {
  const p = plan.params;
  const nodes = brokers.length;
  const label = `${kind}-${nodes}n-${mode}`;
  const args = queueArgs(nodes);
  args.delete("x-queue-type");
  const perfArgs = [
    "--url",
    brokers[0]!.url,
    "-x",
    String(p.publishers),
    "-y",
    mode === "publish" ? "0" : "1",
    "-s",
    String(p.sizeBytes),
    "-c",
    String(p.confirmWindow),
    "--persistent",
    "--queue-type",
    "quorum",
    ...(args.size ? ["--queue-args", [...args].map(([k, v]) => `${k}=${v}`).join(",")] : []),
    "--queue-prefix",
    `qq-bench-${mode}`,
    "-z",
    String(p.durationS),
    "--label",
    label,
    ...(mode === "publish"
      ? []
      : ["-q", String(p.prefetch), "--multi-ack-every", String(p.multiAckEvery)]),
  ];
  // Other work on a shared machine skews figures; say how busy it was, and how fast the
  // disk (shared too) made an append durable just before the run.
  const loadAvg = Math.round(os.loadavg()[0]! * 100) / 100;
  const fsyncPerS = measureFsyncRate(plan.workDir, 1024, 1000).perS;
  const cpuBefore = cpuOf(brokers);
  const wallBefore = performance.now();
  const { summary } = await runLoadTool(REPO_ROOT, perfArgs, {
    prefix: `[${label}]`,
    // A run, the deletion of a queue of some 100k messages, and slack on a busy machine.
    timeoutMs: (p.durationS + 90) * 1000,
    workDir: plan.workDir,
    log: plan.log,
  });
  const wallS = (performance.now() - wallBefore) / 1000;
  const brokerCores = (cpuOf(brokers) - cpuBefore) / wallS;
  const round2 = (n: number) => Math.round(n * 100) / 100;
  return {
    broker: kind,
    nodes,
    mode,
    ranAt: new Date().toISOString(),
    params: p,
    loadAvg,
    fsyncPerS,
    confirmedPerS: summary.rates.confirmedPerS,
    ...(mode === "publish" ? {} : { receivedPerS: summary.rates.receivedPerS }),
    confirmP50Ms: summary.confirmLatencyMs && round2(summary.confirmLatencyMs.p50),
    confirmP99Ms: summary.confirmLatencyMs && round2(summary.confirmLatencyMs.p99),
    nacked: summary.nacked,
    brokerCores: round2(brokerCores),
    toolCores: round2(summary.toolCpuS / summary.durationS),
    errors: summary.errors,
  };
}

/** Starts `kind` on `nodes` nodes, runs every mode against it, stops it. */
async function runTopology(
  plan: Plan,
  kind: BrokerKind,
  nodes: number,
  modes: readonly QuorumMode[],
  epmd: () => Promise<PrivateEpmd>,
): Promise<QuorumRun[]> {
  const unavailable = (why: string): QuorumRun[] =>
    modes.map((mode) => ({
      broker: kind,
      nodes,
      mode,
      ranAt: new Date().toISOString(),
      unavailable: why,
    }));
  plan.log(`== ${BROKER_NAMES[kind]}, ${nodes} node${nodes === 1 ? "" : "s"}: starting`);
  let cluster: {
    nodes: readonly {
      name: string;
      broker: RunningBroker;
      logPath?: string;
      exit?(): string | undefined;
    }[];
    startMs: number;
    stop(): Promise<void>;
    ctl?(i: number, ...args: string[]): Promise<string>;
  };
  try {
    cluster =
      kind === "warren"
        ? await startWarrenCluster(REPO_ROOT, plan.workDir, nodes)
        : await startRabbitCluster(plan.workDir, await epmd(), nodes, { log: plan.log });
  } catch (e) {
    plan.log(`== ${BROKER_NAMES[kind]}: did not start: ${(e as Error).message}`);
    return unavailable(`did not start: ${(e as Error).message.split("\n")[0]}`);
  }
  plan.log(`== ${BROKER_NAMES[kind]}, ${nodes} node(s) up in ${Math.round(cluster.startMs)} ms`);
  const brokers = cluster.nodes.map((n) => n.broker);
  try {
    // On RabbitMQ, say where the queue's members are, as a check of the cluster.
    const ctl = cluster.ctl?.bind(cluster);
    const members = ctl
      ? async (queue: string) => {
          const listing = await ctl(0, "list_queues", "name", "type", "leader", "members");
          const row = listing.split("\n").find((l) => l.startsWith(`${queue}\t`));
          plan.log(`rabbitmq: ${row ?? `no ${queue} in list_queues: ${listing}`}`);
        }
      : undefined;
    const refusal = await quorumRefusal(brokers[0]!.url, nodes, members);
    if (refusal !== undefined) {
      plan.log(`== ${BROKER_NAMES[kind]}: quorum queue refused: ${refusal}`);
      return unavailable(`quorum queue declare refused: ${refusal}`);
    }
    const runs: QuorumRun[] = [];
    for (const mode of modes) {
      plan.log(`== ${BROKER_NAMES[kind]}, ${nodes} node(s), ${MODE_NAMES[mode]}`);
      try {
        const run = await loadRun(plan, kind, brokers, mode);
        // A node that died during the run: say so, with the end of its log.
        const dead = cluster.nodes.filter((n) => n.exit?.() !== undefined);
        for (const n of dead) {
          plan.log(`== ${n.name} ${n.exit!()}; the end of its log:\n${logTail(n.logPath!, 15)}`);
        }
        const leader = warrenLeader(cluster.nodes, `qq-bench-${mode}-1`);
        if (leader !== undefined) plan.log(`== the queue's leader: ${leader}`);
        runs.push(
          dead.length === 0
            ? { ...run, ...(leader === undefined ? {} : { leader }) }
            : {
                ...run,
                // Figures of a run cut short are not the broker's rate.
                unavailable: dead
                  .map((n) => `${n.name} ${n.exit!()} during the run: ${lastError(n.logPath!)}`)
                  .join("; "),
                brokerCores: undefined,
              },
        );
        if (dead.length > 0) break;
      } catch (e) {
        plan.log(`== run failed: ${(e as Error).message}`);
        runs.push({
          broker: kind,
          nodes,
          mode,
          ranAt: new Date().toISOString(),
          unavailable: `run failed: ${(e as Error).message.split("\n")[0]}`,
        });
      }
      plan.log(`== ${JSON.stringify(runs.at(-1))}`);
    }
    return runs;
  } finally {
    await cluster.stop();
  }
}

function fsyncProbe(dir: string, seconds: number, log: (line: string) => void): FsyncRate[] {
  const rates = [1024, 64 * 1024].map((bytes) => measureFsyncRate(dir, bytes, seconds * 1000));
  log(`== fsync bound in ${dir}:\n${renderFsyncBound(rates)}`);
  return rates;
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const params: QuorumParams = {
    durationS: Number(args.duration ?? 15),
    publishers: Number(args.publishers ?? 8),
    confirmWindow: Number(args.confirm ?? 128),
    sizeBytes: SIZE_BYTES,
    prefetch: Number(args.prefetch ?? 1000),
    multiAckEvery: Number(args["multi-ack-every"] ?? 50),
  };
  const brokers = list(args.brokers, "warren,rabbitmq").filter(
    (b): b is BrokerKind => b === "warren" || b === "rabbitmq",
  );
  if (brokers.includes("rabbitmq") && !rabbitmqInstalled()) {
    log("RabbitMQ is not installed (apt-get install rabbitmq-server): its runs are skipped");
    brokers.splice(brokers.indexOf("rabbitmq"), 1);
  }
  const topologies = list(args.nodes, "1,3").map(Number);
  const modes = list(args.modes, "publish,publish-consume").filter(
    (m): m is QuorumMode => m === "publish" || m === "publish-consume",
  );
  killTrackedOnExit();
  const timeoutS = Number(args.timeout ?? 900);
  const watchdog = setTimeout(() => {
    log(`bench:quorum: still running after ${timeoutS} s: killing everything`);
    killAllTracked();
    process.exit(1);
  }, timeoutS * 1000);
  watchdog.unref();
  const workDir = mkdtempSync(join(os.tmpdir(), "warren-bench-quorum-"));
  // Also on the watchdog's exit and on a signal, after the processes are killed.
  onExitCleanup(() => rmSync(workDir, { recursive: true, force: true }));
  const plan: Plan = { params, workDir, log };
  let epmd: PrivateEpmd | undefined;
  const runs: QuorumRun[] = [];
  let fsync: FsyncRate[];
  try {
    // The brokers' data folders are under workDir: the same disk.
    fsync = fsyncProbe(workDir, Number(args["fsync-seconds"] ?? 3), log);
    for (const nodes of topologies) {
      for (const kind of brokers) {
        runs.push(
          ...(await runTopology(plan, kind, nodes, modes, async () => {
            epmd ??= await PrivateEpmd.start();
            return epmd;
          })),
        );
      }
    }
  } finally {
    await epmd?.stop();
    killAllTracked();
    rmSync(workDir, { recursive: true, force: true });
  }
  const previous = loadQuorumResults(RESULTS_PATH);
  const results: QuorumResults = {
    ranAt: new Date().toISOString(),
    machine: machineInfo(REPO_ROOT),
    params,
    fsync,
    runs: mergeRuns(previous?.runs ?? [], runs),
  };
  process.stdout.write(
    `\nQuorum queue, ${params.sizeBytes} B persistent messages, confirms (window ${params.confirmWindow} x ${params.publishers} publishers), ${params.durationS} s per run\n\n` +
      `${renderQuorumTable(results.runs)}\n\n` +
      `fsync bound (the data folders' disk):\n${renderFsyncBound(fsync)}\n` +
      `${renderFsyncReading(fsync, results.runs).join("\n")}\n` +
      `${renderFsyncSpread(runs)}\n` +
      renderUnavailable(results.runs)
        .map((l) => `\n${l}`)
        .join("") +
      "\n",
  );
  if (!args["no-save"]) {
    mkdirSync(dirname(RESULTS_PATH), { recursive: true });
    writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
    formatBenchOutputs(REPO_ROOT);
    log(`wrote ${RESULTS_PATH}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench:quorum: ${(e as Error).stack ?? e}\n`);
    killAllTracked();
    process.exit(1);
  },
);
