import { join } from "node:path";
import { AmqpClient } from "../../src/perf/amqp-client.js";
import type { ClientChannel } from "../../src/perf/client-channel.js";
import type { BrokerKind, RunningBroker } from "../lib/broker.js";
import { BROKER_NAMES } from "../lib/broker.js";
import { treeCpuSeconds } from "../lib/process-stats.js";
import { queueDepth as depth, slope } from "../lib/queue-depth.js";
import type { BenchContext, BrokerOutcome, Scenario } from "../lib/scenario.js";
import { withBroker } from "../lib/scenario.js";
import { spawnTracked, stopProcess } from "../lib/tracked-processes.js";

interface FanoutClientsSpec {
  readonly id: string;
  readonly title: string;
  readonly queues: number;
  readonly prefetch: number;
  readonly ack: "ack" | "auto";
}

/**
 * Issue 13's fanout measurement: one publisher process (warren perf's client) floods a
 * fanout exchange bound to 10 queues while one @cloudamqp/amqp-client process consumes
 * all of them on 10 channels. On a 2-core machine the three processes share the CPU, so
 * what the consumers receive depends on how much the broker lets the publisher take:
 * the figures to watch are the delivered rate and how fast the backlog grows.
 */
function fanoutClientsScenario(spec: FanoutClientsSpec): Scenario {
  return {
    id: spec.id,
    title: spec.title,
    description:
      `1 publisher process (warren perf's client, 16 B transient messages, no confirms, as fast as the socket takes them) to a fanout exchange bound to ${spec.queues} queues; ` +
      `1 consumer process with @cloudamqp/amqp-client 4.1: one connection, one channel per queue, prefetch ${spec.prefetch}, ` +
      (spec.ack === "ack" ? "one basic.ack per message. " : "no-ack. ") +
      "The bench samples the queues' depth every second (queue.declare); backlog growth is the slope of those samples (least squares). " +
      "`node dist/bench/fanout-clients.js`",
    optIn: false,
    metrics: [
      { key: "received", label: "delivered", unit: "msg/s", better: "higher" },
      { key: "sent", label: "published", unit: "msg/s", better: "higher" },
      { key: "backlogGrowth", label: "backlog growth", unit: "msg/s", better: "lower" },
      { key: "backlogPeak", label: "backlog at its highest", unit: "msgs", better: "lower" },
      {
        key: "publisherHeld",
        label: "publisher held back by TCP",
        unit: "% of the run",
        better: "neither",
      },
      { key: "consumerCpu", label: "consumer process CPU", unit: "cores", better: "neither" },
      { key: "publisherCpu", label: "publisher process CPU", unit: "cores", better: "neither" },
      { key: "brokerCpu", label: "broker CPU", unit: "cores", better: "neither" },
    ],
    run: (ctx, kind) => runFanoutClients(ctx, kind, spec),
  };
}

async function runFanoutClients(
  ctx: BenchContext,
  kind: BrokerKind,
  spec: FanoutClientsSpec,
): Promise<BrokerOutcome> {
  return withBroker(ctx, kind, async ({ broker }) => {
    const exchange = `${spec.id}-x`;
    const queues = Array.from({ length: spec.queues }, (_, i) => `${spec.id}-${i + 1}`);
    const admin = await AmqpClient.connect(broker.url);
    const ch = await admin.openChannel();
    await ch.declareExchange(exchange, "fanout", false);
    for (const q of queues) {
      await ch.declareQueue(q, { durable: false });
      await ch.bindQueue(q, exchange, "");
    }
    const script = join(ctx.repoRoot, "dist/bench/fanout-clients.js");
    const lifetimeS = String(ctx.durationS + 120);
    const consumers = spawnTracked(
      process.execPath,
      [
        script,
        "consumers",
        broker.url,
        queues.join(","),
        String(spec.prefetch),
        spec.ack,
        lifetimeS,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const progress = followConsumers(consumers);
    let publisher: ReturnType<typeof spawnTracked> | undefined;
    try {
      await progress.ready;
      const consumerCpuBefore = treeCpuSeconds(consumers.pid!);
      const brokerCpuBefore = broker.cpuSeconds();
      const receivedBefore = progress.received();
      const depthBefore = await depth(ch, queues);
      const startedAt = performance.now();
      publisher = spawnTracked(
        process.execPath,
        [script, "publisher", broker.url, exchange, "16", String(ctx.durationS)],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const publisherCpu = sampleCpu(publisher.pid!);
      const result = lastJsonLine(publisher);
      let peak = depthBefore;
      const samples: [number, number][] = [[0, depthBefore]];
      let done = false;
      void result.finally(() => {
        done = true;
      });
      while (!done) {
        await sleep(1000);
        if (done) break;
        const d = await depth(ch, queues);
        samples.push([(performance.now() - startedAt) / 1000, d]);
        peak = Math.max(peak, d);
        ctx.log(
          `[${spec.id} ${kind}] backlog ${d}, delivered ${progress.received() - receivedBefore}`,
        );
      }
      const published = (await result) as { published: number; waitedMs: number };
      const wallS = (performance.now() - startedAt) / 1000;
      const receivedDuring = progress.received() - receivedBefore;
      const depthAfter = await depth(ch, queues);
      samples.push([wallS, depthAfter]);
      peak = Math.max(peak, depthAfter);
      const values = {
        received: Math.round(receivedDuring / wallS),
        sent: Math.round(published.published / wallS),
        backlogGrowth: Math.round(slope(samples)),
        backlogPeak: peak,
        publisherHeld: Math.round((published.waitedMs / 1000 / wallS) * 100),
        consumerCpu: round2((treeCpuSeconds(consumers.pid!) - consumerCpuBefore) / wallS),
        publisherCpu: round2(publisherCpu() / wallS),
        brokerCpu: round2((broker.cpuSeconds() - brokerCpuBefore) / wallS),
      };
      return { values, notes: [] };
    } catch (e) {
      throw new Error(`${BROKER_NAMES[kind]}: ${(e as Error).message}`);
    } finally {
      if (publisher) await stopProcess(publisher, "SIGTERM", 10_000);
      await stopProcess(consumers, "SIGTERM", 10_000);
      await cleanup(ch, admin, queues, exchange, broker);
    }
  });
}

/** The consumer process's ready line and its running count of deliveries. */
function followConsumers(child: ReturnType<typeof spawnTracked>) {
  let received = 0;
  let buffered = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (t: string) => {
      buffered += t;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = JSON.parse(buffered.slice(0, nl)) as { ready?: boolean; received?: number };
        buffered = buffered.slice(nl + 1);
        if (line.ready) resolve();
        if (line.received !== undefined) received = line.received;
      }
    });
    child.once("exit", (code) => reject(new Error(`the consumer process exited (${code})`)));
  });
  return { ready, received: () => received };
}

/** The last JSON line a child prints before it exits. */
function lastJsonLine(child: ReturnType<typeof spawnTracked>): Promise<unknown> {
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (t: string) => {
    out += t;
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = out.trim().split("\n").pop();
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`the publisher process exited (${code}): ${out}`));
    });
  });
}

/** CPU seconds a process used, read while it lives (its /proc entry goes when it exits). */
function sampleCpu(pid: number): () => number {
  const start = treeCpuSeconds(pid);
  let last = start;
  const timer = setInterval(() => {
    const now = treeCpuSeconds(pid);
    if (now > 0) last = now;
  }, 500);
  return () => {
    clearInterval(timer);
    return last - start;
  };
}

async function cleanup(
  ch: ClientChannel,
  admin: AmqpClient,
  queues: readonly string[],
  exchange: string,
  _broker: RunningBroker,
): Promise<void> {
  try {
    for (const q of queues) await ch.deleteQueue(q);
    await ch.deleteExchange(exchange);
    await admin.close();
  } catch {
    // The broker is stopped next anyway.
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export const FANOUT_CLIENTS_SCENARIOS: readonly Scenario[] = [
  fanoutClientsScenario({
    id: "fanout-clients-10q",
    title: "Fanout 16 B to 10 queues, amqp-client.js consumers",
    queues: 10,
    prefetch: 1000,
    ack: "ack",
  }),
];
