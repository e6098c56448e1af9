import { AmqpClient } from "./amqp-client.js";
import { Consumer } from "./consumer.js";
import { share } from "./pacing.js";
import type { PerfOptions } from "./perf-options.js";
import { Publisher } from "./publisher.js";
import { RunMeter } from "./run-meter.js";
import { buildSummary, type PerfSummary, progressLine } from "./run-summary.js";
import { nowEpochMs } from "./send-time.js";
import {
  declareTopology,
  deleteTopology,
  planTopology,
  queueForConsumer,
  routesForPublisher,
} from "./topology.js";

export interface RunIo {
  /** A live progress line (the CLI prints it on stderr). */
  progress(line: string): void;
  /** Aborting ends the run early, with a summary of what happened so far. */
  readonly signal?: AbortSignal;
}

/** Connections opened at once while setting up many consumers or publishers. */
const CONNECT_CONCURRENCY = 50;
/** How long closing and cleaning up may take before connections are dropped. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * One load run: declare the topology, connect consumers then publishers (each on its
 * own connection), run for the duration (or until --count is sent and confirmed),
 * sample every second, then close everything and return the summary.
 */
export async function runPerf(o: PerfOptions, io: RunIo): Promise<PerfSummary> {
  const startedAt = new Date();
  const topology = planTopology(o);
  const clients: AmqpClient[] = [];
  const errors: string[] = [];
  let stopping = false;
  // The first connection or channel error ends the run; each distinct error is reported.
  let failed!: () => void;
  const failure = new Promise<void>((resolve) => {
    failed = resolve;
  });
  const report = (who: string, e: Error) => {
    if (stopping) return;
    const text = `${who}: ${e.message}`;
    if (!errors.includes(text)) errors.push(text);
    failed();
  };
  const connect = async (name: string) => {
    const client = await AmqpClient.connect(o.url, {
      heartbeatSec: o.heartbeatSec,
      connectionName: `warren perf ${name}`,
    });
    clients.push(client);
    void client.closed.then((e) => {
      if (e) report(name, e);
    });
    return client;
  };
  let setup: AmqpClient | undefined;
  let ticker: NodeJS.Timeout | undefined;
  try {
    setup = await connect("setup");
    const setupChannel = await setup.openChannel();
    if (!o.predeclared) await declareTopology(setupChannel, topology, o);

    const meter = new RunMeter(nowEpochMs());
    await inBatches(o.consumers, CONNECT_CONCURRENCY, async (j) => {
      const client = await connect(`consumer ${j + 1}`);
      const channel = await client.openChannel();
      channel.onError = (e) => report(`consumer ${j + 1}`, e);
      const consumer = new Consumer(
        channel,
        {
          queue: queueForConsumer(topology, j),
          autoAck: o.autoAck,
          prefetch: o.prefetch,
          multiAckEvery: o.multiAckEvery,
        },
        meter,
      );
      await consumer.start();
    });
    const publishers: Publisher[] = [];
    await inBatches(o.publishers, CONNECT_CONCURRENCY, async (i) => {
      const client = await connect(`publisher ${i + 1}`);
      const channel = await client.openChannel();
      channel.onError = (e) => report(`publisher ${i + 1}`, e);
      if (o.confirmWindow > 0) await channel.confirmSelect();
      publishers[i] = new Publisher(
        client,
        channel,
        {
          routes: routesForPublisher(topology, i),
          sizeBytes: o.sizeBytes,
          persistent: o.persistent,
          confirmWindow: o.confirmWindow,
          ratePerS: o.ratePerS > 0 ? Math.max(1, share(o.ratePerS, o.publishers, i)) : 0,
          count: share(o.count, o.publishers, i),
        },
        meter,
        nowEpochMs,
      );
    });

    // The clock starts now: setup time and anything consumed meanwhile are not figures.
    meter.restart(nowEpochMs());
    const cpuAtStart = process.cpuUsage();
    for (const p of publishers) p.start();
    ticker = setInterval(() => {
      const s = meter.sample(nowEpochMs());
      if (!o.quiet) io.progress(progressLine(s, o.confirmWindow > 0));
    }, 1000);

    await firstOf([
      sleep(o.durationS * 1000),
      o.count > 0 ? Promise.all(publishers.map((p) => p.done)) : never(),
      abortOf(io.signal),
      failure,
    ]);
    const end = nowEpochMs();
    meter.freeze(end);
    const cpu = process.cpuUsage(cpuAtStart);
    clearInterval(ticker);
    if (end - meter.lastSampleAtMs >= 100) {
      const s = meter.sample(end);
      if (!o.quiet) io.progress(progressLine(s, o.confirmWindow > 0));
    }
    for (const p of publishers) p.stop();
    stopping = true;
    if (!o.keep && !o.predeclared && setup.isOpen) {
      await withTimeout(
        deleteTopology(setupChannel, topology),
        CLOSE_TIMEOUT_MS,
        "deleting the queues",
      ).catch((e) => errors.push(`cleanup: ${(e as Error).message}`));
    }
    return buildSummary(o, meter.result(end), startedAt, errors, (cpu.user + cpu.system) / 1e6);
  } finally {
    stopping = true;
    if (ticker) clearInterval(ticker);
    await Promise.all(clients.map((c) => c.close(CLOSE_TIMEOUT_MS)));
  }
}

async function inBatches(n: number, concurrency: number, fn: (i: number) => Promise<void>) {
  for (let start = 0; start < n; start += concurrency) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(n, start + concurrency); i++) batch.push(fn(i));
    await Promise.all(batch);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function never(): Promise<never> {
  return new Promise(() => {});
}

function firstOf(promises: Promise<unknown>[]): Promise<unknown> {
  return Promise.race(promises);
}

function abortOf(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return never();
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]);
}
