#!/usr/bin/env node
// Opens many idle AMQP connections and holds them, for the idle-connections scenario.
// Usage: node dist/bench/idle-holder.js URL COUNT HEARTBEAT_S CONCURRENCY MAX_LIFETIME_S
// Prints JSON lines on stdout: progress, then {"ready":true,...}; exits on SIGTERM or
// when its lifetime is over (it never outlives a bench that forgot it).
import { AmqpClient } from "../src/perf/amqp-client.js";

const [url, countArg, heartbeatArg, concurrencyArg, lifetimeArg] = process.argv.slice(2);
const count = Number(countArg);
const heartbeatSec = Number(heartbeatArg ?? 60);
const concurrency = Number(concurrencyArg ?? 100);
const lifetimeS = Number(lifetimeArg ?? 600);
if (!url || !Number.isInteger(count) || count <= 0) {
  process.stderr.write("usage: idle-holder URL COUNT [HEARTBEAT_S CONCURRENCY MAX_LIFETIME_S]\n");
  process.exit(64);
}

const lifetime = setTimeout(() => process.exit(0), lifetimeS * 1000);
lifetime.unref();
process.on("SIGTERM", () => process.exit(0));

const clients: AmqpClient[] = [];
let failed = 0;
let firstError: string | undefined;
let next = 0;
const startedAt = performance.now();
// Give up after this many failures in a row: the machine or the broker is at its limit.
const MAX_FAILURES_IN_A_ROW = 200;
let failuresInARow = 0;

async function worker(): Promise<void> {
  while (next < count && failuresInARow < MAX_FAILURES_IN_A_ROW) {
    next++;
    try {
      clients.push(await AmqpClient.connect(url!, { heartbeatSec, connectTimeoutMs: 30_000 }));
      failuresInARow = 0;
    } catch (e) {
      failed++;
      failuresInARow++;
      firstError ??= (e as Error).message;
    }
    if ((clients.length + failed) % 1000 === 0) {
      process.stdout.write(`${JSON.stringify({ opened: clients.length, failed })}\n`);
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, () => worker()));
const openMs = performance.now() - startedAt;
const stillOpen = clients.filter((c) => c.isOpen).length;
process.stdout.write(
  `${JSON.stringify({ ready: true, opened: clients.length, stillOpen, failed, firstError, openMs })}\n`,
);
// Keep the event loop alive (heartbeat timers are unref'd) until SIGTERM or the lifetime.
setInterval(() => {}, 1 << 30);
