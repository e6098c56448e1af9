import { rmSync } from "node:fs";
import type { BrokerKind, RunningBroker } from "./broker.js";

/** What a figure's ratio means: higher or lower is better, or neither (context only). */
export type Better = "higher" | "lower" | "neither";

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
}

/** One broker's run of a scenario. */
export interface BrokerOutcome {
  readonly values: Readonly<Record<string, number | undefined>>;
  readonly notes: readonly string[];
  /** A plot of the run (warren perf's SVG), if the scenario makes one. */
  readonly plotSvg?: string;
}

export interface StartedBroker {
  readonly broker: RunningBroker;
  readonly startMs: number;
  readonly startLogs?: readonly Record<string, unknown>[];
}

export interface BenchContext {
  readonly repoRoot: string;
  /** Scratch space for data folders and files; removed at the end. */
  readonly workDir: string;
  /** Seconds each load run lasts. */
  readonly durationS: number;
  /** Connections the idle-connections scenario opens. */
  readonly idleConnections: number;
  /** Messages queued before the restart (1,000,000 unless asked otherwise). */
  readonly restartMessages: number;
  /** Messages queued for the memory figure (5,000,000 unless asked otherwise). */
  readonly rssMessages: number;
  log(line: string): void;
  startBroker(
    kind: BrokerKind,
    options?: { dataDir?: string; startTimeoutMs?: number },
  ): Promise<StartedBroker>;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** What runs, in a sentence or two, for the report. */
  readonly description: string;
  /** Long scenarios run only when named with --only. */
  readonly optIn: boolean;
  readonly metrics: readonly Metric[];
  run(ctx: BenchContext, kind: BrokerKind): Promise<BrokerOutcome>;
}

/** Starts a broker, runs `body`, and always stops the broker (and removes its data). */
export async function withBroker<T>(
  ctx: BenchContext,
  kind: BrokerKind,
  body: (started: StartedBroker) => Promise<T>,
): Promise<T> {
  const started = await ctx.startBroker(kind);
  try {
    return await body(started);
  } finally {
    await started.broker.stop();
    rmSync(started.broker.dataDir, { recursive: true, force: true });
  }
}
