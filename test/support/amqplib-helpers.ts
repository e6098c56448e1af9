import assert from "node:assert/strict";
import amqp from "amqplib";

export type Connection = Awaited<ReturnType<typeof amqp.connect>>;
export type Channel = Awaited<ReturnType<Connection["createChannel"]>>;
export type ConfirmChannel = Awaited<ReturnType<Connection["createConfirmChannel"]>>;

export async function connect(
  url: string,
  options: Record<string, unknown> = {},
): Promise<Connection> {
  return amqp.connect(url, options);
}

/** Resolves with the error that closed the channel (amqplib reports the close frame as an error). */
export function channelClosed(ch: Channel): Promise<Error & { code?: number }> {
  return new Promise((resolve) => {
    ch.once("error", (e: Error & { code?: number }) => resolve(e));
  });
}

/** Asserts that `op` fails with the given AMQP reply code and a reply text matching `text`. */
export async function rejectsWith(
  op: Promise<unknown>,
  code: number,
  text?: RegExp,
): Promise<void> {
  await assert.rejects(op, (e: Error & { code?: number }) => {
    assert.equal(e.code, code, `expected reply code ${code}, got ${e.code}: ${e.message}`);
    if (text) assert.match(e.message, text);
    return true;
  });
}

/** Collects `n` deliveries from a queue with a fresh consumer, then cancels it. */
export async function take(
  ch: Channel,
  queue: string,
  n: number,
  options: { noAck?: boolean } = {},
): Promise<amqp.ConsumeMessage[]> {
  const got: amqp.ConsumeMessage[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const { consumerTag } = await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      got.push(m);
      if (got.length === n) done();
    },
    { noAck: options.noAck ?? false },
  );
  await withTimeout(finished, 5000, `waiting for ${n} messages from ${queue}, got ${got.length}`);
  await ch.cancel(consumerTag);
  return got;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A name unique to this run, so tests against a shared external broker do not collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
