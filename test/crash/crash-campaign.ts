import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";

export interface CampaignOptions {
  readonly kills: number;
  readonly seed: number;
  /** Longest time the clients run before the kill, ms. */
  readonly maxRunMs?: number;
  readonly publishers?: number;
  readonly log?: (line: string) => void;
}

export interface CampaignResult {
  readonly kills: number;
  readonly seed: number;
  readonly published: number;
  readonly confirmed: number;
  readonly acked: number;
  /** Confirmed messages that were neither acknowledged nor found after a restart. Must be 0. */
  readonly lost: number[];
  /** Messages seen again after they were acknowledged (allowed: at-least-once). */
  readonly duplicates: number;
  readonly recoveredMessages: number;
}

/** mulberry32: a small seeded PRNG so a failing campaign replays from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUEUE = "crash-q";

/**
 * Kills a real Warren process with SIGKILL at random moments while clients publish
 * with confirms and consume with manual acks, restarts it on the same data, and
 * checks after each restart that every confirmed message is either acknowledged
 * or back in the queue. Duplicates (redelivery of messages whose ack the crash
 * swallowed) are counted separately; losses must be zero.
 */
export async function runCrashCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const random = prng(options.seed);
  const log = options.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "warren-crash-"));
  const confirmed = new Set<number>();
  const acked = new Set<number>();
  const lost: number[] = [];
  let nextId = 1;
  let duplicates = 0;
  let recoveredMessages = 0;
  // Small segments so reclamation and segment rotation happen under the kills too.
  const args = ["--log-level", "info"];
  const env = { WARREN_SEGMENT_BYTES: String(256 * 1024) };
  let broker: BrokerUnderTest = await startBroker({ dataDir, args, env });
  try {
    for (let kill = 1; kill <= options.kills; kill++) {
      const runMs = 50 + Math.floor(random() * (options.maxRunMs ?? 600));
      const before = nextId;
      nextId = await runClients(broker, runMs, nextId, options.publishers ?? 2, confirmed, acked);
      await broker.kill();
      broker = await startBroker({ dataDir, args, env });
      const present = await drain(broker);
      recoveredMessages += present.length;
      const seen = new Set<number>();
      for (const id of present) {
        if (acked.has(id) || seen.has(id)) duplicates++;
        seen.add(id);
      }
      for (const id of confirmed) {
        if (!acked.has(id) && !seen.has(id)) lost.push(id);
      }
      for (const id of seen) acked.add(id);
      log(
        `kill ${kill}/${options.kills}: ran ${runMs} ms, published ${nextId - before}, ` +
          `recovered ${present.length}, lost so far ${lost.length}, duplicates so far ${duplicates}`,
      );
      if (lost.length > 0) break;
    }
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    kills: options.kills,
    seed: options.seed,
    published: nextId - 1,
    confirmed: confirmed.size,
    acked: acked.size,
    lost,
    duplicates,
    recoveredMessages,
  };
}

/** Publishers and a consumer run until the broker dies (after `runMs` we kill it). */
async function runClients(
  broker: BrokerUnderTest,
  runMs: number,
  firstId: number,
  publishers: number,
  confirmed: Set<number>,
  acked: Set<number>,
): Promise<number> {
  let nextId = firstId;
  const connections: Awaited<ReturnType<typeof amqp.connect>>[] = [];
  let stopped = false;
  const setup = await amqp.connect(broker.url);
  setup.on("error", () => {});
  connections.push(setup);
  const sch = await setup.createChannel();
  await sch.assertQueue(QUEUE, { durable: true });
  const tasks: Promise<void>[] = [];
  for (let p = 0; p < publishers; p++) {
    const conn = await amqp.connect(broker.url);
    conn.on("error", () => {});
    connections.push(conn);
    const ch = await conn.createConfirmChannel();
    ch.on("error", () => {});
    tasks.push(
      (async () => {
        // A window of outstanding confirms keeps the group commit busy.
        const window = 64;
        let outstanding = 0;
        let wake: (() => void) | undefined;
        while (!stopped) {
          if (outstanding >= window) {
            await new Promise<void>((r) => {
              wake = r;
            });
            continue;
          }
          const id = nextId++;
          outstanding++;
          ch.sendToQueue(QUEUE, Buffer.from(String(id)), { persistent: true }, (err) => {
            outstanding--;
            if (!err) confirmed.add(id);
            wake?.();
          });
          if (outstanding % 16 === 0) await new Promise((r) => setImmediate(r));
        }
      })().catch(() => {}),
    );
  }
  const consumer = await amqp.connect(broker.url);
  consumer.on("error", () => {});
  connections.push(consumer);
  const cch = await consumer.createChannel();
  cch.on("error", () => {});
  await cch.prefetch(50);
  await cch.consume(QUEUE, (m) => {
    if (!m) return;
    cch.ack(m);
    // Counted as acked once the ack is handed to the socket; the crash may still eat it.
    acked.add(Number(m.content.toString()));
  });
  await new Promise((r) => setTimeout(r, runMs));
  stopped = true;
  // The caller kills the broker now, with all of this in flight.
  void Promise.all(tasks);
  return nextId;
}

/** After a restart: every message in the queue, acknowledged as it is read. */
async function drain(broker: BrokerUnderTest): Promise<number[]> {
  const conn = await amqp.connect(broker.url);
  const ch = await conn.createChannel();
  const { messageCount } = await ch.assertQueue(QUEUE, { durable: true });
  const ids: number[] = [];
  if (messageCount > 0) {
    await ch.prefetch(500);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`drain timed out at ${ids.length}/${messageCount}`)),
        30_000,
      );
      void ch.consume(QUEUE, (m) => {
        if (!m) return;
        ids.push(Number(m.content.toString()));
        ch.ack(m);
        if (ids.length === messageCount) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
  await conn.close();
  return ids;
}
