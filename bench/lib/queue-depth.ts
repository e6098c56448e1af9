import { AmqpClient } from "../../src/perf/amqp-client.js";
import type { ClientChannel } from "../../src/perf/client-channel.js";

/** Total ready messages in the queues (queue.declare's message count; declares them if missing). */
export async function queueDepth(ch: ClientChannel, queues: readonly string[]): Promise<number> {
  let total = 0;
  for (const q of queues) total += (await ch.declareQueue(q, { durable: false })).messageCount;
  return total;
}

/** Least-squares slope of (seconds, depth) points: how fast a backlog grows, msg/s. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Samples the depth of non-durable queues once a second from its own connection, for
 * `durationS` seconds: their highest depth and how fast they grew (slope). Declaring
 * them first is harmless when the load tool declares the same queues itself.
 */
export async function sampleDepth(
  url: string,
  queues: readonly string[],
  durationS: number,
): Promise<{ peak: number; growthPerS: number }> {
  const client = await AmqpClient.connect(url);
  try {
    const ch = await client.openChannel();
    const points: [number, number][] = [];
    const startedAt = performance.now();
    for (;;) {
      const t = (performance.now() - startedAt) / 1000;
      if (t > durationS) break;
      points.push([t, await queueDepth(ch, queues)]);
      await new Promise((r) => setTimeout(r, 1000));
    }
    return {
      peak: Math.max(0, ...points.map(([, d]) => d)),
      growthPerS: slope(points),
    };
  } finally {
    await client.close().catch(() => {});
  }
}
