import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { BROKER_NAMES, type BrokerKind } from "./broker.js";
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
  /** When each broker's figures were taken (a run can leave one broker's figures as they were). */
  readonly ranAtByBroker?: { readonly warren?: string; readonly rabbitmq?: string };
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

/**
 * The record to keep after a run: the fresh one, except that a broker left out of this
 * run keeps its previous figures, notes, plot and date (RabbitMQ does not change between
 * runs of Warren's long scenarios, and its runs are the slow ones).
 */
export function mergeScenario(
  previous: ScenarioRecord | undefined,
  fresh: ScenarioRecord,
  brokersRun: readonly BrokerKind[],
): ScenarioRecord {
  const kept = (kind: BrokerKind) => !brokersRun.includes(kind) && previous?.[kind] !== undefined;
  const dateOf = (kind: BrokerKind) =>
    kept(kind) ? (previous!.ranAtByBroker?.[kind] ?? previous!.ranAt) : fresh.ranAt;
  const keptNotes = (["warren", "rabbitmq"] as const)
    .filter(kept)
    .flatMap((kind) => previous!.notes.filter((n) => n.startsWith(BROKER_NAMES[kind])));
  return {
    ...fresh,
    ranAtByBroker: { warren: dateOf("warren"), rabbitmq: dateOf("rabbitmq") },
    warren: kept("warren") ? previous!.warren : fresh.warren,
    rabbitmq: kept("rabbitmq") ? previous!.rabbitmq : fresh.rabbitmq,
    notes: [...fresh.notes, ...keptNotes],
    plots: {
      warren: kept("warren") ? previous!.plots.warren : fresh.plots.warren,
      rabbitmq: kept("rabbitmq") ? previous!.plots.rabbitmq : fresh.plots.rabbitmq,
    },
  };
}
