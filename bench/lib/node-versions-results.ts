import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { MachineInfo } from "./results.js";
import type { Metric } from "./scenario.js";

/** One Warren run of a scenario under one Node.js version. */
export interface NodeVersionRun {
  readonly round: number;
  readonly values: Readonly<Record<string, number | undefined>>;
}

export interface NodeVersionsScenario {
  readonly id: string;
  readonly title: string;
  /** The keys of the figures the summary table shows, in order. */
  readonly summary: readonly string[];
  readonly metrics: readonly Metric[];
  /** Runs by Node.js major version ("20", "22", "24"). */
  readonly runs: Readonly<Record<string, readonly NodeVersionRun[]>>;
  readonly notes: readonly string[];
}

/** bench/results/node-versions.json: the latest comparison, replaced by each run. */
export interface NodeVersionsRecord {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The machine, with `node` the version the bench and the load tool ran under. */
  readonly machine: MachineInfo;
  readonly versions: readonly { readonly major: string; readonly version: string }[];
  /** The major the ratios are taken against. */
  readonly baseline: string;
  readonly rounds: number;
  readonly durationS: number;
  readonly scenarios: readonly NodeVersionsScenario[];
}

export function loadNodeVersions(path: string): NodeVersionsRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as NodeVersionsRecord;
  } catch {
    return undefined;
  }
}

export function saveNodeVersions(path: string, record: NodeVersionsRecord): void {
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
}

/** The median and the range of one figure over a version's rounds. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

export function spreadOf(
  runs: readonly NodeVersionRun[] | undefined,
  key: string,
): Spread | undefined {
  const xs = (runs ?? [])
    .map((r) => r.values[key])
    .filter((x): x is number => typeof x === "number" && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  const median = xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  return { median, min: xs[0]!, max: xs[xs.length - 1]!, count: xs.length };
}

/**
 * The order of the versions in round `round` (0-based): rotated by one each round, so no
 * version always runs first on a fresh machine or last on a warm one.
 */
export function roundOrder<T>(versions: readonly T[], round: number): T[] {
  const n = versions.length;
  return Array.from({ length: n }, (_, i) => versions[(i + round) % n]!);
}
