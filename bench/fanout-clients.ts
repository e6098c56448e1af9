#!/usr/bin/env node
// The two client processes of the fanout-clients scenario (bench/scenarios/fanout-clients.ts):
//
//   node dist/bench/fanout-clients.js consumers URL QUEUES PREFETCH ACK LIFETIME_S
//     @cloudamqp/amqp-client (the load tool of issue 13's report): one connection, one
//     channel per queue (QUEUES comma-separated), basic.qos PREFETCH, ACK "ack" (one
//     basic.ack per message) or "auto" (no-ack). Prints {"ready":true} once every consumer
//     is registered, then {"t":ms,"received":n} four times a second.
//   node dist/bench/fanout-clients.js publisher URL EXCHANGE SIZE DURATION_S
//     warren perf's own client: 16 B transient messages to EXCHANGE as fast as the socket
//     takes them (writing stops while 1 MiB waits for the kernel, as warren perf does),
//     for DURATION_S; prints {"published":n,"waitedMs":ms,"durationMs":ms} at the end.
//     waitedMs is the time it spent waiting for the socket to drain: how long the broker
//     held it back through TCP (flow control, or simply not reading fast enough).
//
// Both exit on SIGTERM and never outlive their lifetime.
import { AMQPClient } from "@cloudamqp/amqp-client";
import { AmqpClient } from "../src/perf/amqp-client.js";
import { encodeProperties } from "../src/protocol/content-properties.js";

const [role, url, ...rest] = process.argv.slice(2);
process.on("SIGTERM", () => process.exit(0));

if (role === "consumers") await consumers(url!, rest);
else if (role === "publisher") await publisher(url!, rest);
else {
  process.stderr.write("usage: fanout-clients consumers|publisher URL ...\n");
  process.exit(64);
}

async function consumers(url: string, [queuesArg, prefetchArg, ackArg, lifetimeArg]: string[]) {
  const lifetime = setTimeout(() => process.exit(0), Number(lifetimeArg ?? 600) * 1000);
  lifetime.unref();
  const noAck = ackArg === "auto";
  const client = new AMQPClient(url);
  const conn = await client.connect();
  conn.onerror = (e) => {
    process.stderr.write(`consumer connection error: ${e.message}\n`);
    process.exit(1);
  };
  let received = 0;
  for (const queue of queuesArg!.split(",")) {
    const ch = await conn.channel();
    await ch.prefetch(Number(prefetchArg ?? 1000));
    await ch.basicConsume(queue, { noAck }, (msg) => {
      received++;
      if (!noAck) void msg.ack();
    });
  }
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  setInterval(() => {
    process.stdout.write(`${JSON.stringify({ t: Date.now(), received })}\n`);
  }, 250);
}

async function publisher(url: string, [exchange, sizeArg, durationArg]: string[]) {
  const durationMs = Number(durationArg ?? 20) * 1000;
  const client = await AmqpClient.connect(url, { heartbeatSec: 60 });
  const ch = await client.openChannel();
  const properties = encodeProperties({ deliveryMode: 1 });
  const body = Buffer.alloc(Number(sizeArg ?? 16));
  const HIGH_WATER_BYTES = 1024 * 1024;
  const startedAt = performance.now();
  let published = 0;
  let waitedMs = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      if (performance.now() - startedAt >= durationMs || !client.isOpen) {
        resolve();
        return;
      }
      if (client.bufferedBytes > HIGH_WATER_BYTES) {
        const waitFrom = performance.now();
        void client.whenDrained().then(() => {
          waitedMs += performance.now() - waitFrom;
          step();
        });
        return;
      }
      for (let i = 0; i < 200; i++) ch.publish(exchange!, "", properties, body);
      published += 200;
      setImmediate(step);
    };
    step();
  });
  const elapsedMs = performance.now() - startedAt;
  process.stdout.write(
    `${JSON.stringify({ published, waitedMs: Math.round(waitedMs), durationMs: Math.round(elapsedMs) })}\n`,
  );
  process.exit(0);
}
