/**
 * amqplib helpers for the multi-node queue tests (test/interop/cluster-queues*.test.ts):
 * the error a channel was closed with, passive counts, a consumer that checks its prefetch
 * window, and RabbitMQ's text for a queue whose home node is down.
 */
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { type Channel, type Connection, sleep, withTimeout } from "./amqplib-helpers.js";

/** A channel whose close by the server is not an unhandled error (tests read it instead). */
export async function channel(conn: Connection): Promise<Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return ch;
}

/** The reply code and text an operation's channel was closed with (it must be closed). */
export async function channelError(
  conn: Connection,
  op: (ch: Channel) => Promise<unknown>,
  what = "an operation expected to fail",
): Promise<{ code: number | undefined; message: string }> {
  const ch = await channel(conn);
  let result: unknown;
  try {
    result = await withTimeout(op(ch), 10_000, what);
  } catch (e) {
    const err = e as Error & { code?: number };
    return { code: err.code, message: err.message };
  }
  await ch.close().catch(() => {});
  throw new Error(`${what} succeeded: ${JSON.stringify(result)}`);
}

/** The queue's message count by a passive declare (undefined: not there, or not yet). */
export async function passiveCount(conn: Connection, queue: string): Promise<number | undefined> {
  const ch = await channel(conn);
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } catch {
    return undefined;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** ["p0", "p1", ...]: message bodies in publish order. */
export const range = (n: number, prefix = "") =>
  Array.from({ length: n }, (_, k) => `${prefix}${k}`);

/** Asserts the bodies arrived exactly as expected; on failure says how, in one line. */
export function assertBodies(actual: readonly string[], expected: readonly string[], what: string) {
  const firstDifference = expected.findIndex((b, k) => actual[k] !== b);
  if (firstDifference === -1 && actual.length === expected.length) return;
  const seen = new Set(actual);
  const missing = expected.filter((b) => !seen.has(b)).length;
  const duplicates = actual.length - seen.size;
  const at = firstDifference === -1 ? expected.length : firstDifference;
  assert.fail(
    `${what}: ${actual.length} of ${expected.length} arrived, ${missing} missing, ` +
      `${duplicates} duplicates, first difference at #${at} ` +
      `(expected ${JSON.stringify(expected[at])}, got ${JSON.stringify(actual[at])})`,
  );
}

/** RabbitMQ's text for a durable queue whose home node is away (rabbit_amqqueue). */
export const homeDownText = (node: string, queue: string, vhost = "/") =>
  `NOT_FOUND - home node '${node}' of durable queue '${queue}' in vhost '${vhost}' is down or inaccessible`;

export interface Delivery {
  readonly body: string;
  readonly redelivered: boolean;
}

/**
 * Consumes with basic.qos(prefetch) and manual acks until `count` arrived, holding acks back
 * until the window is full (then waiting a little for an extra delivery the window must hold
 * back) or nothing arrives for a moment; returns what arrived and the most ever unacked.
 */
export async function consumeWindowed(
  conn: Connection,
  queue: string,
  count: number,
  prefetch: number,
): Promise<{ got: Delivery[]; maxUnacked: number }> {
  const ch = await channel(conn);
  await ch.prefetch(prefetch);
  const got: Delivery[] = [];
  let unacked: amqp.ConsumeMessage[] = [];
  let maxUnacked = 0;
  let timer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const ackAll = () => {
    const last = unacked.at(-1);
    unacked = [];
    if (last) ch.ack(last, true);
  };
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (!m) return;
    got.push({ body: m.content.toString(), redelivered: m.fields.redelivered });
    unacked.push(m);
    maxUnacked = Math.max(maxUnacked, unacked.length);
    clearTimeout(timer);
    timer = setTimeout(ackAll, unacked.length >= prefetch ? 30 : 100);
    if (got.length === count) done();
  });
  try {
    await withTimeout(finished, 60_000, `${count} deliveries of ${queue}`).catch((e) => {
      throw new Error(`${e.message}: got ${got.length}`);
    });
    // Anything more would be a duplicate.
    await sleep(300);
    return { got, maxUnacked };
  } finally {
    clearTimeout(timer);
    ackAll();
    await ch.cancel(consumerTag).catch(() => {});
    await ch.close().catch(() => {});
  }
}

/** basic.get with a bound (amqplib resolves false on get-empty). */
export async function get(ch: Channel, queue: string): Promise<amqp.GetMessage> {
  const m = await withTimeout(ch.get(queue, { noAck: false }), 10_000, `basic.get ${queue}`);
  assert.ok(m, `basic.get on ${queue} found a message`);
  return m;
}

/**
 * basic.consume that the broker is expected to refuse: the channel's close (code and text)
 * and whether a basic.consume-ok came first (RabbitMQ sends none for a refused consume; a
 * client that saw one believes its consumer exists).
 */
export async function refusedConsume(
  conn: Connection,
  queue: string,
): Promise<{ consumeOk: boolean; code: number | undefined; message: string }> {
  const ch = await conn.createChannel();
  const closed = new Promise<Error & { code?: number }>((resolve) => ch.once("error", resolve));
  let consumeOk = false;
  await ch
    .consume(queue, () => {})
    .then(
      () => {
        consumeOk = true;
      },
      () => {},
    );
  const err = await withTimeout(closed, 10_000, `the channel closed after consuming ${queue}`);
  return { consumeOk, code: err.code, message: err.message };
}
