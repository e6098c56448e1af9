import type { PerfSummary } from "../../src/perf/run-summary.js";
import { renderPlot } from "../../src/perf/svg-plot.js";
import { BROKER_NAMES, type BrokerKind } from "../lib/broker.js";
import { runLoadTool } from "../lib/load-tool.js";
import { sampleDepth } from "../lib/queue-depth.js";
import type { BenchContext, BrokerOutcome, Metric, Scenario } from "../lib/scenario.js";
import { withBroker } from "../lib/scenario.js";

type Pick = (s: PerfSummary) => number | undefined;

const FIGURES: Record<string, Metric & { pick: Pick }> = {
  sent: {
    key: "sent",
    label: "published",
    unit: "msg/s",
    better: "higher",
    pick: (s) => s.rates.sentPerS,
  },
  received: {
    key: "received",
    label: "delivered",
    unit: "msg/s",
    better: "higher",
    pick: (s) => s.rates.receivedPerS,
  },
  confirmed: {
    key: "confirmed",
    label: "confirmed",
    unit: "msg/s",
    better: "higher",
    pick: (s) => s.rates.confirmedPerS,
  },
  backlog: {
    key: "backlog",
    label: "left queued at the end (published - delivered)",
    unit: "msgs",
    better: "neither",
    pick: (s) => Math.max(0, s.sent * fanoutOf(s) - s.received),
  },
  p50: {
    key: "p50",
    label: "latency p50",
    unit: "ms",
    better: "lower",
    pick: (s) => s.latencyMs?.p50,
  },
  p95: {
    key: "p95",
    label: "latency p95",
    unit: "ms",
    better: "lower",
    pick: (s) => s.latencyMs?.p95,
  },
  p99: {
    key: "p99",
    label: "latency p99",
    unit: "ms",
    better: "lower",
    pick: (s) => s.latencyMs?.p99,
  },
  max: {
    key: "max",
    label: "latency max",
    unit: "ms",
    better: "lower",
    pick: (s) => s.latencyMs?.max,
  },
  confirmP50: {
    key: "confirmP50",
    label: "confirm latency p50",
    unit: "ms",
    better: "lower",
    pick: (s) => s.confirmLatencyMs?.p50,
  },
  confirmP99: {
    key: "confirmP99",
    label: "confirm latency p99",
    unit: "ms",
    better: "lower",
    pick: (s) => s.confirmLatencyMs?.p99,
  },
  toolCpu: {
    key: "toolCpu",
    label: "load tool CPU",
    unit: "cores",
    better: "neither",
    pick: (s) => round2(s.toolCpuS / s.durationS),
  },
};

const BROKER_CPU: Metric = {
  key: "brokerCpu",
  label: "broker CPU",
  unit: "cores",
  better: "neither",
};

/** Figures from sampling the queues' depth once a second while the tool runs. */
const DEPTH_METRICS: readonly Metric[] = [
  {
    key: "queueGrowth",
    label: "queue backlog growth (slope of the sampled depth)",
    unit: "msg/s",
    better: "lower",
  },
  { key: "queuePeak", label: "queue backlog at its highest", unit: "msgs", better: "lower" },
];

function fanoutOf(s: PerfSummary): number {
  return s.options.exchange === "fanout" ? Number(s.options.queues) : 1;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

interface LoadScenarioSpec {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** warren perf flags, without --url and --duration. */
  readonly args: readonly string[];
  readonly figures: readonly (keyof typeof FIGURES)[];
  /**
   * Samples the depth of the tool's queues (warren-perf-1 .. N) every second: how far
   * the backlog really grows, apart from what waits in the sockets.
   */
  readonly sampleQueues?: number;
}

/** A scenario that is one `warren perf` run against a fresh broker. */
function loadScenario(spec: LoadScenarioSpec): Scenario {
  const metrics = [
    ...spec.figures.map((f) => FIGURES[f]!),
    ...(spec.sampleQueues ? DEPTH_METRICS : []),
    BROKER_CPU,
  ];
  return {
    id: spec.id,
    title: spec.title,
    description: `${spec.description} \`warren perf ${spec.args.join(" ")}\``,
    optIn: false,
    metrics: metrics.map(({ key, label, unit, better }) => ({ key, label, unit, better })),
    run: (ctx, kind) => runLoad(ctx, kind, spec),
  };
}

async function runLoad(
  ctx: BenchContext,
  kind: BrokerKind,
  spec: LoadScenarioSpec,
): Promise<BrokerOutcome> {
  return withBroker(ctx, kind, async ({ broker }) => {
    const cpuBefore = broker.cpuSeconds();
    const wallBefore = performance.now();
    const queues = Array.from({ length: spec.sampleQueues ?? 0 }, (_, i) => `warren-perf-${i + 1}`);
    const depth = queues.length > 0 ? sampleDepth(broker.url, queues, ctx.durationS) : undefined;
    const { summary, exitCode } = await runLoadTool(
      ctx.repoRoot,
      ["--url", broker.url, "-z", String(ctx.durationS), "--label", spec.id, ...spec.args],
      {
        prefix: `[${spec.id} ${kind}]`,
        timeoutMs: ctx.durationS * 1000 + 180_000,
        workDir: ctx.workDir,
        log: ctx.log,
      },
    );
    const wallS = (performance.now() - wallBefore) / 1000;
    const brokerCores = (broker.cpuSeconds() - cpuBefore) / wallS;
    const values: Record<string, number | undefined> = { brokerCpu: round2(brokerCores) };
    for (const f of spec.figures) values[f] = FIGURES[f]!.pick(summary);
    if (depth) {
      const { peak, growthPerS } = await depth;
      values.queuePeak = peak;
      values.queueGrowth = Math.round(growthPerS);
    }
    const notes = summary.errors.map((e) => `${BROKER_NAMES[kind]}: ${e}`);
    if (exitCode !== 0 && notes.length === 0)
      notes.push(`${BROKER_NAMES[kind]}: load tool exit ${exitCode}`);
    const plotSvg = renderPlot(
      summary.samples,
      `${spec.title}: ${BROKER_NAMES[kind]}, ${summary.startedAt}`,
    );
    return { values, notes, plotSvg };
  });
}

/** Said next to every persistent figure: the two brokers do not promise the same thing. */
export const DURABILITY_NOTE =
  'Durability differs: Warren sends the confirm for a persistent message on a durable queue only after the fdatasync of the group-commit batch that holds it. RabbitMQ 3.10\'s classic queues do not fsync on every message: in its own words, the message store "persists messages to disk in batches after an interval (a few hundred milliseconds) to minimise the number of fsync(2) calls, or when a queue is idle" (rabbitmq.com, Consumer Acknowledgements and Publisher Confirms).';

export const LOAD_SCENARIOS: readonly Scenario[] = [
  loadScenario({
    id: "transient-16b",
    title: "Transient 16 B",
    description:
      "1 publisher, 1 consumer, 16 B transient messages to a non-durable queue, no confirms, auto-ack, as fast as possible.",
    args: ["-x", "1", "-y", "1", "-s", "16", "-a"],
    figures: ["received", "sent", "backlog", "p50", "p99", "toolCpu"],
  }),
  loadScenario({
    id: "persistent-1k",
    title: "Persistent 1 KiB with confirms",
    description:
      "1 publisher (confirm window 256), 1 consumer (manual ack of each message, prefetch 500), 1 KiB persistent messages to a durable queue. " +
      DURABILITY_NOTE,
    args: [
      "-x",
      "1",
      "-y",
      "1",
      "-s",
      "1024",
      "-c",
      "256",
      "--persistent",
      "--durable",
      "-q",
      "500",
    ],
    figures: ["confirmed", "received", "confirmP50", "confirmP99", "p99", "toolCpu"],
  }),
  loadScenario({
    id: "fanout-16b-10q",
    title: "Fanout 16 B to 10 queues",
    description:
      "1 publisher to a fanout exchange bound to 10 queues, one auto-ack consumer per queue (10 connections), 16 B transient messages, no confirms.",
    args: ["-x", "1", "-y", "10", "--queues", "10", "--exchange", "fanout", "-s", "16", "-a"],
    figures: ["received", "sent", "backlog", "p99", "toolCpu"],
    sampleQueues: 10,
  }),
  loadScenario({
    id: "store-16b",
    title: "Publishing to a queue with no consumer",
    description:
      "1 publisher, no consumer, 16 B transient messages to one non-durable queue, no confirms, as fast as possible: a queue with no consumer is a store, and publisher flow control never holds its publishers.",
    args: ["-x", "1", "-y", "0", "-s", "16"],
    figures: ["sent", "toolCpu"],
  }),
  loadScenario({
    id: "latency-2000",
    title: "Latency at 2,000 msg/s with confirms",
    description:
      "1 publisher at a fixed 2,000 msg/s with confirms (window 256), 1 consumer with manual acks (prefetch 500), 16 B transient messages.",
    args: ["-x", "1", "-y", "1", "-s", "16", "-r", "2000", "-c", "256", "-q", "500"],
    figures: ["received", "p50", "p95", "p99", "max", "confirmP50", "confirmP99"],
  }),
  loadScenario({
    id: "queues-1000",
    title: "1,000 queues, one consumer each",
    description:
      "1,000 queues behind a direct exchange, one auto-ack consumer on its own connection per queue, 1 publisher cycling over the queues, 16 B transient messages, no confirms.",
    args: ["-x", "1", "-y", "1000", "--queues", "1000", "-s", "16", "-a"],
    figures: ["received", "sent", "backlog", "p99", "toolCpu"],
  }),
];
