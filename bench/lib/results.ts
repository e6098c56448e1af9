import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Metric } from "./scenario.js";

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly os: string;
  readonly node: string;
  readonly warrenCommit: string;
  readonly rabbitmq: string | undefined;
  readonly erlang: string | undefined;
}

/** One scenario's latest figures for both brokers. */
export interface ScenarioRecord {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly optIn: boolean;
  readonly ranAt: string;
  readonly machine: MachineInfo;
  readonly metrics: readonly Metric[];
  readonly warren: Readonly<Record<string, number | undefined>> | undefined;
  readonly rabbitmq: Readonly<Record<string, number | undefined>> | undefined;
  readonly notes: readonly string[];
  /** Plot files relative to the repository root. */
  readonly plots: { readonly warren?: string; readonly rabbitmq?: string };
}

export interface ResultsFile {
  readonly scenarios: Record<string, ScenarioRecord>;
}

/** Results kept between runs, so a separate run of the long scenarios adds to the table. */
export function loadResults(path: string): ResultsFile {
  if (!existsSync(path)) return { scenarios: {} };
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ResultsFile;
  } catch {
    return { scenarios: {} };
  }
}

export function saveResults(path: string, results: ResultsFile): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}
