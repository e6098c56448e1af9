import { existsSync, readFileSync } from "node:fs";
import { BROKER_NAMES, type BrokerKind } from "./broker.js";
import type { FsyncRate } from "./fsync-rate.js";
import type { MachineInfo } from "./results.js";

/** Publishers only, or publishers with one consumer draining the queue. */
export type QuorumMode = "publish" | "publish-consume";

export const MODE_NAMES: Record<QuorumMode, string> = {
  publish: "publish only",
  "publish-consume": "publish + consume",
};

/** One broker, one topology, one mode: what the load tool and the brokers' processes saw. */
export interface QuorumRun {
  readonly broker: BrokerKind;
  readonly nodes: number;
  readonly mode: QuorumMode;
  readonly ranAt: string;
  /** Why there are no figures ("quorum queues refused: ..."); absent when the run happened. */
  readonly unavailable?: string;
  /** How this run was made (kept runs may predate the file's latest params). */
  readonly params?: QuorumParams;
  /** 1-minute load average just before the run (2 cores: above 2, others competed). */
  readonly loadAvg?: number;
  /** 1 KiB append + fdatasync calls per second on the data disk, measured for 1 s just before. */
  readonly fsyncPerS?: number;
  /** On a cluster, the node whose replica led the queue (clients are on node 1). */
  readonly leader?: string;
  readonly confirmedPerS?: number;
  readonly receivedPerS?: number;
  readonly confirmP50Ms?: number;
  readonly confirmP99Ms?: number;
  readonly nacked?: number;
  /** CPU the broker's processes (all nodes) used during the run, in cores (2.0 = both cores). */
  readonly brokerCores?: number;
  /** CPU the load tool used during the run, in cores. */
  readonly toolCores?: number;
  readonly errors?: readonly string[];
}

/** How every run was made, so a reader can repeat it. */
export interface QuorumParams {
  readonly durationS: number;
  readonly publishers: number;
  readonly confirmWindow: number;
  readonly sizeBytes: number;
  readonly prefetch: number;
  readonly multiAckEvery: number;
}

export interface QuorumResults {
  readonly ranAt: string;
  readonly machine: MachineInfo;
  readonly params: QuorumParams;
  readonly fsync: readonly FsyncRate[];
  readonly runs: readonly QuorumRun[];
}

const key = (r: Pick<QuorumRun, "broker" | "nodes" | "mode">) => `${r.broker}/${r.nodes}/${r.mode}`;

export function loadQuorumResults(path: string): QuorumResults | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as QuorumResults;
  } catch {
    return undefined;
  }
}

/**
 * The runs to keep: this run's, and every earlier run this one did not repeat (a run of
 * Warren alone keeps RabbitMQ's figures, whose runs are the slow ones).
 */
export function mergeRuns(
  previous: readonly QuorumRun[],
  fresh: readonly QuorumRun[],
): QuorumRun[] {
  const freshKeys = new Set(fresh.map(key));
  return [...previous.filter((r) => !freshKeys.has(key(r))), ...fresh].sort((a, b) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0,
  );
}

const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function rate(run: QuorumRun | undefined): string {
  if (run === undefined) return "-";
  if (run.unavailable !== undefined || run.confirmedPerS === undefined) return "n/a";
  return thousands.format(run.confirmedPerS);
}

function latency(run: QuorumRun | undefined): string {
  if (run?.confirmP50Ms === undefined || run.confirmP99Ms === undefined) return "-";
  return `${run.confirmP50Ms} / ${run.confirmP99Ms}`;
}

function ratio(warren: QuorumRun | undefined, rabbit: QuorumRun | undefined): string {
  const w = warren?.confirmedPerS;
  const r = rabbit?.confirmedPerS;
  if (w === undefined || r === undefined || r === 0) return "n/a";
  return `${(w / r).toFixed(2)}x`;
}

/**
 * A markdown table: per topology and mode, each broker's confirmed msg/s, its confirm
 * latency p50 / p99 (ms) and the ratio Warren / RabbitMQ.
 */
export function renderQuorumTable(runs: readonly QuorumRun[]): string {
  const find = (broker: BrokerKind, nodes: number, mode: QuorumMode) =>
    runs.find((r) => r.broker === broker && r.nodes === nodes && r.mode === mode);
  const head = [
    "nodes",
    "load",
    `${BROKER_NAMES.warren} msg/s`,
    `${BROKER_NAMES.rabbitmq} msg/s`,
    "Warren / RabbitMQ",
    "Warren confirm p50 / p99 ms",
    "RabbitMQ confirm p50 / p99 ms",
  ];
  const rows: string[][] = [];
  const topologies = [...new Set(runs.map((r) => r.nodes))].sort((a, b) => a - b);
  for (const nodes of topologies) {
    for (const mode of ["publish", "publish-consume"] as const) {
      const w = find("warren", nodes, mode);
      const r = find("rabbitmq", nodes, mode);
      if (w === undefined && r === undefined) continue;
      rows.push([
        String(nodes),
        MODE_NAMES[mode],
        rate(w),
        rate(r),
        ratio(w, r),
        latency(w),
        latency(r),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}

/** The fsync bound in words: one fdatasync per message, and what a batch per fsync allows. */
export function renderFsyncBound(fsync: readonly FsyncRate[]): string {
  return fsync
    .map(
      (f) =>
        `- ${f.appendBytes >= 1024 ? `${f.appendBytes / 1024} KiB` : `${f.appendBytes} B`} append + fdatasync: ` +
        `${thousands.format(f.perS)} calls/s (p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ${f.calls} calls in ${f.seconds} s)`,
    )
    .join("\n");
}

/** Why runs had no figures, and their errors, one line each. */
export function renderUnavailable(runs: readonly QuorumRun[]): string[] {
  const lines: string[] = [];
  for (const r of runs) {
    const what = `${BROKER_NAMES[r.broker]}, ${r.nodes} node${r.nodes === 1 ? "" : "s"}, ${MODE_NAMES[r.mode]}`;
    if (r.unavailable !== undefined) lines.push(`${what}: n/a (${r.unavailable})`);
    else if (r.errors?.length) lines.push(`${what}: errors: ${r.errors.join("; ")}`);
  }
  return lines;
}

/**
 * What the fsync bound means for the runs: one fdatasync per message caps a log at the
 * small-append rate; a broker above it commits several messages per fsync; a batch of
 * 64 KiB (64 messages) per fsync allows the big-append rate times 64.
 */
export function renderFsyncReading(
  fsync: readonly FsyncRate[],
  runs: readonly QuorumRun[],
): string[] {
  const small = fsync.find((f) => f.appendBytes === 1024);
  const big = fsync.find((f) => f.appendBytes === 64 * 1024);
  if (small === undefined) return [];
  const lines = [
    `- one fdatasync per 1 KiB message: at most ${thousands.format(small.perS)} msg/s on this disk`,
  ];
  if (big !== undefined) {
    lines.push(
      `- one fdatasync per 64-message batch: at most ${thousands.format(big.perS * 64)} msg/s (${thousands.format(big.perS)} x 64)`,
    );
  }
  for (const r of runs) {
    if (r.confirmedPerS === undefined || r.mode !== "publish") continue;
    const perFsync = r.confirmedPerS / small.perS;
    lines.push(
      `- ${BROKER_NAMES[r.broker]}, ${r.nodes} node${r.nodes === 1 ? "" : "s"}: ${thousands.format(r.confirmedPerS)} msg/s is ${perFsync.toFixed(1)}x the one-fsync-per-message bound` +
        (r.nodes > 1
          ? ` (every replica fsyncs its own log on the same disk: ${r.nodes} fsyncs a commit round)`
          : ""),
    );
  }
  return lines;
}

/** The range of the 1 s fdatasync probes taken before this run's load runs (the disk is shared). */
export function renderFsyncSpread(runs: readonly QuorumRun[]): string {
  const rates = runs.flatMap((r) => (r.fsyncPerS === undefined ? [] : [r.fsyncPerS]));
  if (rates.length === 0) return "";
  return `- the 1 s probes before each run: ${thousands.format(Math.min(...rates))} to ${thousands.format(Math.max(...rates))} calls/s (1 KiB)`;
}
