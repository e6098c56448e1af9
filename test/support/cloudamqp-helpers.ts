import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient, type AMQPMessage } from "@cloudamqp/amqp-client";
import { sleep, withTimeout } from "./amqplib-helpers.js";

/** Connects @cloudamqp/amqp-client to the broker under test. */
export async function connectCloudAmqp(url: string): Promise<AMQPClient> {
  const client = new AMQPClient(url);
  await withTimeout(client.connect(), 5000, "@cloudamqp/amqp-client connect");
  return client;
}

/**
 * Asserts that `op` fails because the server closed the channel (or connection) with
 * `code`, and that the reply text matches `text`. The client reports it as
 * "channel N closed: <reply text> (<code>)".
 */
export async function rejectsWithReply(
  op: Promise<unknown>,
  code: number,
  text: RegExp,
): Promise<void> {
  await assert.rejects(op, (e: Error) => {
    assert.match(e.message, new RegExp(`\\(${code}\\)$`), `expected code ${code}: ${e.message}`);
    assert.match(e.message, text);
    return true;
  });
}

/** Starts a consumer that records every delivery, without acking. */
export async function recordingConsumer(
  ch: AMQPChannel,
  queue: string,
  options: { noAck?: boolean } = {},
): Promise<{ messages: AMQPMessage[]; tag: string }> {
  const messages: AMQPMessage[] = [];
  const consumer = await ch.basicConsume(queue, { noAck: options.noAck ?? false }, (m) => {
    messages.push(m);
  });
  return { messages, tag: consumer.tag };
}

/** Waits until `count()` reaches `n`, then a little longer to catch any extra. */
export async function settle(count: () => number, n: number, what: string): Promise<number> {
  const deadline = Date.now() + 3000;
  while (count() < n && Date.now() < deadline) await sleep(10);
  assert.ok(count() >= n, `timed out: ${what} (${count()} of ${n})`);
  await sleep(150);
  return count();
}

/** Publishes bodies "0".."n-1" to the default exchange. */
export async function fill(ch: AMQPChannel, queue: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await ch.basicPublish("", queue, String(i));
}

/** The ready-message count, from a passive declare. */
export async function readyCount(ch: AMQPChannel, queue: string): Promise<number> {
  return (await ch.queueDeclare(queue, { passive: true })).messageCount;
}
