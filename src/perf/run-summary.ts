import type { Percentiles } from "./latency-histogram.js";
import { type PerfOptions, redactUrl } from "./perf-options.js";
import type { MeterResult, Sample } from "./run-meter.js";

/** The final JSON a run prints: what was asked, what happened, and each second of it. */
export interface PerfSummary {
  readonly label: string | undefined;
  readonly broker: string;
  readonly startedAt: string;
  readonly options: Record<string, unknown>;
  readonly durationS: number;
  readonly sent: number;
  readonly received: number;
  readonly confirmed: number;
  readonly nacked: number;
  /** Mean rates over the run, messages per second, rounded. */
  readonly rates: { sentPerS: number; receivedPerS: number; confirmedPerS: number };
  readonly latencyMs: Percentiles | undefined;
  readonly confirmLatencyMs: Percentiles | undefined;
  /**
   * CPU seconds the load tool itself used during the run (user + system). Near durationS
   * means the tool, not the broker, may have set the pace.
   */
  readonly toolCpuS: number;
  /** Connection and channel errors seen during the run (empty for a clean run). */
  readonly errors: readonly string[];
  readonly samples: readonly Sample[];
}

export function buildSummary(
  o: PerfOptions,
  result: MeterResult,
  startedAt: Date,
  errors: readonly string[],
  toolCpuS: number,
): PerfSummary {
  return {
    label: o.label,
    broker: redactUrl(o.url),
    startedAt: startedAt.toISOString(),
    options: {
      publishers: o.publishers,
      consumers: o.consumers,
      sizeBytes: o.sizeBytes,
      confirmWindow: o.confirmWindow,
      persistent: o.persistent,
      durable: o.durable,
      queueType: o.queueType,
      queueArgs: Object.fromEntries(o.queueArgs),
      queues: o.queues,
      exchange: o.exchange,
      ratePerS: o.ratePerS,
      durationS: o.durationS,
      count: o.count,
      prefetch: o.prefetch,
      autoAck: o.autoAck,
      multiAckEvery: o.multiAckEvery,
    },
    durationS: result.durationS,
    sent: result.totals.sent,
    received: result.totals.received,
    confirmed: result.totals.confirmed,
    nacked: result.totals.nacked,
    rates: {
      sentPerS: Math.round(result.rates.sentPerS),
      receivedPerS: Math.round(result.rates.receivedPerS),
      confirmedPerS: Math.round(result.rates.confirmedPerS),
    },
    latencyMs: result.latencyMs,
    confirmLatencyMs: result.confirmLatencyMs,
    toolCpuS: Math.round(toolCpuS * 100) / 100,
    errors,
    samples: result.samples,
  };
}

const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** The live line printed each second. */
export function progressLine(s: Sample, withConfirms: boolean): string {
  const parts = [
    `${s.elapsedS.toFixed(0).padStart(4)}s`,
    `sent ${thousands.format(s.sentPerS).padStart(8)}/s`,
    `received ${thousands.format(s.receivedPerS).padStart(8)}/s`,
  ];
  if (withConfirms) parts.push(`confirmed ${thousands.format(s.confirmedPerS).padStart(8)}/s`);
  if (s.latencyMs) {
    parts.push(`latency p50 ${formatMs(s.latencyMs.p50)} p99 ${formatMs(s.latencyMs.p99)}`);
  }
  return parts.join("  ");
}

export function formatMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}
