import { join } from "node:path";
import { BROKER_NAMES, type BrokerKind } from "../lib/broker.js";
import type { BenchContext, BrokerOutcome, Scenario } from "../lib/scenario.js";
import { withBroker } from "../lib/scenario.js";
import { spawnTracked, stopProcess } from "../lib/tracked-processes.js";

interface HolderReady {
  readonly opened: number;
  readonly stillOpen: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly openMs: number;
}

const SETTLE_MS = 5000;
const IDLE_CPU_WINDOW_MS = 10_000;

/** 10,000 connections that do nothing but heartbeat: memory per connection and idle CPU. */
export const IDLE_CONNECTIONS: Scenario = {
  id: "idle-10k",
  title: "10,000 idle connections (60 s heartbeats)",
  description:
    "A separate process opens 10,000 AMQP connections (100 handshakes at a time, heartbeat 60 s, no channels) and holds them. Memory per connection is (RSS with the connections - RSS before) / connections, both measured 5 s after things settle; idle CPU is the broker's CPU over the next 10 s.",
  optIn: false,
  metrics: [
    { key: "opened", label: "connections held", unit: "conns", better: "higher" },
    { key: "openRate", label: "connection opening rate", unit: "conn/s", better: "higher" },
    { key: "rssBefore", label: "RSS before", unit: "MiB", better: "lower" },
    { key: "rssAfter", label: "RSS with the connections", unit: "MiB", better: "lower" },
    { key: "perConn", label: "memory per connection", unit: "KiB", better: "lower" },
    { key: "idleCpu", label: "CPU while idle", unit: "cores", better: "lower" },
  ],
  run: (ctx, kind) => runIdle(ctx, kind),
};

async function runIdle(ctx: BenchContext, kind: BrokerKind): Promise<BrokerOutcome> {
  return withBroker(ctx, kind, async ({ broker }) => {
    await sleep(SETTLE_MS);
    const rssBefore = broker.rssBytes();
    const holder = spawnTracked(
      process.execPath,
      [
        join(ctx.repoRoot, "dist/bench/idle-holder.js"),
        broker.url,
        String(ctx.idleConnections),
        "60",
        "100",
        "900",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const ready = await readyLine(holder, 600_000, (l) => ctx.log(`[idle-10k ${kind}] ${l}`));
      await sleep(SETTLE_MS);
      const rssAfter = broker.rssBytes();
      const cpuBefore = broker.cpuSeconds();
      await sleep(IDLE_CPU_WINDOW_MS);
      const idleCpu = (broker.cpuSeconds() - cpuBefore) / (IDLE_CPU_WINDOW_MS / 1000);
      const notes: string[] = [];
      const name = BROKER_NAMES[kind];
      if (ready.opened < ctx.idleConnections) {
        notes.push(
          `${name}: ${ready.opened} of ${ctx.idleConnections} connections opened (${ready.failed} failed, first error: ${ready.firstError})`,
        );
      }
      if (ready.stillOpen < ready.opened) {
        notes.push(`${name}: ${ready.opened - ready.stillOpen} connections dropped while opening`);
      }
      const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
      return {
        values: {
          opened: ready.stillOpen,
          openRate: Math.round(ready.opened / (ready.openMs / 1000)),
          rssBefore: mib(rssBefore),
          rssAfter: mib(rssAfter),
          perConn:
            ready.stillOpen > 0
              ? Math.round(((rssAfter - rssBefore) / ready.stillOpen / 1024) * 10) / 10
              : undefined,
          idleCpu: Math.round(idleCpu * 1000) / 1000,
        },
        notes,
      };
    } finally {
      await stopProcess(holder, "SIGTERM", 10_000);
    }
  });
}

function readyLine(
  holder: ReturnType<typeof spawnTracked>,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<HolderReady> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => reject(new Error("idle holder: no ready line in time")),
      timeoutMs,
    );
    holder.stdout!.setEncoding("utf8").on("data", (t: string) => {
      buffered += t;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        log(line);
        const parsed = JSON.parse(line) as HolderReady & { ready?: boolean };
        if (parsed.ready) {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
    holder.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`idle holder exited (${code}) before it was ready`));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
