import { rmSync } from "node:fs";
import { AmqpClient } from "../../src/perf/amqp-client.js";
import { BROKER_NAMES, type BrokerKind } from "../lib/broker.js";
import { diskUsageBytes } from "../lib/disk-usage.js";
import { runLoadTool } from "../lib/load-tool.js";
import { PeakSampler } from "../lib/rss-sampler.js";
import type { BenchContext, BrokerOutcome, Scenario } from "../lib/scenario.js";
import { DURABILITY_NOTE } from "./load-scenarios.js";

const MIB = 1024 * 1024;
const mib = (bytes: number) => Math.round(bytes / MIB);

/** Publishes `count` persistent 1 KiB messages to one durable queue and waits for every confirm. */
async function fill(
  ctx: BenchContext,
  url: string,
  kind: BrokerKind,
  id: string,
  queuePrefix: string,
  count: number,
) {
  const { summary } = await runLoadTool(
    ctx.repoRoot,
    [
      "--url",
      url,
      "--count",
      String(count),
      "-x",
      "1",
      "-y",
      "0",
      "-s",
      "1024",
      "-c",
      "256",
      "--persistent",
      "--durable",
      "--keep",
      "--queue-prefix",
      queuePrefix,
      "-z",
      "3600",
      "--label",
      id,
    ],
    { prefix: `[${id} ${kind}]`, timeoutMs: 3_900_000, workDir: ctx.workDir, log: ctx.log },
  );
  if (summary.confirmed !== count) {
    throw new Error(
      `${id}: ${summary.confirmed} of ${count} messages confirmed (${summary.errors.join("; ")})`,
    );
  }
  return summary;
}

/** Polls a passive queue.declare until the queue reports at least `count` messages. */
async function waitForQueue(url: string, queue: string, count: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    let seen = -1;
    try {
      const client = await AmqpClient.connect(url, { connectTimeoutMs: 10_000 });
      try {
        const ch = await client.openChannel();
        seen = (await ch.declareQueue(queue, { durable: true })).messageCount;
      } finally {
        await client.close();
      }
    } catch {
      // not up yet, or the queue is still being recovered
    }
    if (seen >= count) return seen;
    if (performance.now() > deadline)
      throw new Error(`${queue} reported ${seen} of ${count} messages in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Issue 3: restart time with 1,000,000 persistent 1 KiB messages queued, after a SIGKILL. */
export const RESTART_1M: Scenario = {
  id: "restart-1m",
  title: "Restart after SIGKILL with 1,000,000 x 1 KiB persistent messages queued",
  description:
    'Publish 1,000,000 persistent 1 KiB messages to one durable queue with confirms (window 256), SIGKILL the broker, start it again on the same data. Times are from process spawn: to Warren\'s " started on " log line, and (both brokers) to the first passive queue.declare that reports all messages; Warren\'s recovery time is the one its "recovered N durable queues with M messages ... in X ms" line reports; the start time of each broker with no data is given for scale. ' +
    DURABILITY_NOTE,
  optIn: true,
  metrics: [
    {
      key: "publishRate",
      label: "publish rate while filling (confirmed)",
      unit: "msg/s",
      better: "higher",
    },
    { key: "diskMiB", label: "data on disk", unit: "MiB", better: "lower" },
    {
      key: "emptyStartMs",
      label: "start time with no data (spawn to ready)",
      unit: "ms",
      better: "lower",
    },
    {
      key: "startedMs",
      label: 'spawn to " started on " (Warren) / to AMQP handshake (RabbitMQ)',
      unit: "ms",
      better: "lower",
    },
    {
      key: "recoveryMs",
      label: "recovery time from the log line (Warren)",
      unit: "ms",
      better: "lower",
    },
    {
      key: "readyMs",
      label: "spawn to queue.declare reporting every message",
      unit: "ms",
      better: "lower",
    },
    { key: "recovered", label: "messages recovered", unit: "msgs", better: "higher" },
    { key: "rssAfter", label: "RSS after the restart", unit: "MiB", better: "lower" },
  ],
  run: (ctx, kind) => runRestart(ctx, kind),
};

async function runRestart(ctx: BenchContext, kind: BrokerKind): Promise<BrokerOutcome> {
  const count = ctx.restartMessages;
  const first = await ctx.startBroker(kind);
  const dataDir = first.broker.dataDir;
  try {
    let publishRate: number;
    try {
      const summary = await fill(ctx, first.broker.url, kind, "restart-1m", "restart", count);
      publishRate = summary.rates.confirmedPerS;
    } finally {
      await first.broker.kill();
    }
    const diskMiB = mib(diskUsageBytes(dataDir));
    const t0 = performance.now();
    const second = await ctx.startBroker(kind, { dataDir, startTimeoutMs: 1_800_000 });
    try {
      const recovered = await waitForQueue(second.broker.url, "restart-1", count, 1_800_000);
      const readyMs = Math.round(performance.now() - t0);
      const values: Record<string, number | undefined> = {
        publishRate,
        diskMiB,
        emptyStartMs: Math.round(first.startMs),
        startedMs: Math.round(second.startMs),
        readyMs,
        recovered,
        rssAfter: mib(second.broker.rssBytes()),
      };
      const notes =
        count === 1_000_000 ? [] : [`${BROKER_NAMES[kind]}: run with ${count} messages`];
      const line = second.startLogs?.find(
        (l) => typeof l.msg === "string" && l.msg.startsWith("recovered "),
      );
      if (line) {
        values.recoveryMs = Number(line.durationMs);
        notes.push(`${BROKER_NAMES[kind]} log: "${line.msg}"`);
      }
      return { values, notes };
    } finally {
      await second.broker.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Issue 3: resident memory with 5,000,000 x 1 KiB persistent messages in one durable queue. */
export const RSS_5M: Scenario = {
  id: "rss-5m",
  title: "Memory with 5,000,000 x 1 KiB persistent messages queued",
  description:
    "Publish 5,000,000 persistent 1 KiB messages to one durable queue with confirms (window 256), no consumer; RSS (VmRSS from /proc) sampled each second while filling, and 10 s after the last confirm. Warren's target: under 1 GiB. RabbitMQ's memory high watermark is its default, 0.4 of RAM. " +
    DURABILITY_NOTE,
  optIn: true,
  metrics: [
    { key: "publishRate", label: "publish rate (confirmed)", unit: "msg/s", better: "higher" },
    { key: "rssQueued", label: "RSS with 5M messages queued", unit: "MiB", better: "lower" },
    { key: "rssPeak", label: "peak RSS while filling", unit: "MiB", better: "lower" },
    { key: "diskMiB", label: "data on disk", unit: "MiB", better: "lower" },
  ],
  run: (ctx, kind) => runRss(ctx, kind),
};

async function runRss(ctx: BenchContext, kind: BrokerKind): Promise<BrokerOutcome> {
  const { broker } = await ctx.startBroker(kind);
  try {
    const sampler = new PeakSampler(() => broker.rssBytes());
    let summary: Awaited<ReturnType<typeof fill>>;
    try {
      summary = await fill(ctx, broker.url, kind, "rss-5m", "rss", ctx.rssMessages);
    } finally {
      sampler.stop();
    }
    await new Promise((r) => setTimeout(r, 10_000));
    const rssQueued = broker.rssBytes();
    const notes =
      ctx.rssMessages === 5_000_000
        ? []
        : [`${BROKER_NAMES[kind]}: run with ${ctx.rssMessages} messages`];
    if (kind === "warren" && rssQueued >= 1024 * MIB) {
      notes.push(`Warren: RSS ${mib(rssQueued)} MiB is over the 1 GiB target`);
    }
    return {
      values: {
        publishRate: summary.rates.confirmedPerS,
        rssQueued: mib(rssQueued),
        rssPeak: mib(Math.max(sampler.peak, rssQueued)),
        diskMiB: mib(diskUsageBytes(broker.dataDir)),
      },
      notes,
    };
  } finally {
    await broker.stop();
    rmSync(broker.dataDir, { recursive: true, force: true });
  }
}
