import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AMQPChannel, AMQPClient } from "@cloudamqp/amqp-client";
import { sleep, uniqueName } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { connectCloudAmqp, readyCount, settle } from "../support/cloudamqp-helpers.js";

// Queue features RabbitMQ clients rely on: priorities, consumer priorities, TTL,
// length limits and dead-lettering (rabbitmq-reference.md §4), with @cloudamqp/amqp-client.

let broker: BrokerUnderTest;
let client: AMQPClient;

before(async () => {
  broker = await startBroker();
  client = await connectCloudAmqp(broker.url);
});

after(async () => {
  await client?.close().catch(() => {});
  await broker?.stop();
});

async function queue(ch: AMQPChannel, args: Record<string, unknown> = {}): Promise<string> {
  return (await ch.queueDeclare("", { exclusive: true, autoDelete: false }, args)).name;
}

/** Bodies of everything ready in the queue, taken with basic.get. */
async function drain(ch: AMQPChannel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.basicGet(q, { noAck: true });
    if (!m) return out;
    out.push(m.bodyToString() ?? "");
  }
}

describe("priorities", () => {
  test("a queue with x-max-priority delivers higher priorities first, FIFO within one", async () => {
    const ch = await client.channel();
    const q = await queue(ch, { "x-max-priority": 10 });
    for (const [body, priority] of [
      ["low-1", 1],
      ["high-1", 9],
      ["mid", 5],
      ["high-2", 9],
      ["none", undefined],
    ] as const) {
      await ch.basicPublish("", q, body, priority === undefined ? {} : { priority });
    }
    assert.deepEqual(await drain(ch, q), ["high-1", "high-2", "mid", "low-1", "none"]);
    await ch.close();
  });

  test("a consumer with a higher x-priority gets messages while it has prefetch credit", async () => {
    const ch = await client.channel();
    const q = await queue(ch);
    await ch.basicQos(2);
    const high: string[] = [];
    const low: string[] = [];
    await ch.basicConsume(q, { noAck: false, args: { "x-priority": 10 } }, (m) => {
      high.push(m.bodyToString() ?? "");
    });
    await ch.basicConsume(q, { noAck: false }, (m) => {
      low.push(m.bodyToString() ?? "");
    });
    for (let i = 0; i < 3; i++) await ch.basicPublish("", q, String(i));
    await settle(() => high.length + low.length, 3, "3 deliveries");
    assert.deepEqual([high, low], [["0", "1"], ["2"]]);
    await ch.close();
  });
});

describe("time to live", () => {
  test("a message with expiration 0 and no consumer expires at once", async () => {
    const ch = await client.channel();
    const q = await queue(ch);
    await ch.basicPublish("", q, "gone", { expiration: "0" });
    await ch.basicPublish("", q, "kept");
    assert.deepEqual(await drain(ch, q), ["kept"]);
    await ch.close();
  });

  test("x-message-ttl drops messages older than the queue's TTL", async () => {
    const ch = await client.channel();
    const q = await queue(ch, { "x-message-ttl": 100 });
    await ch.basicPublish("", q, "old");
    await sleep(250);
    await ch.basicPublish("", q, "new");
    assert.deepEqual(await drain(ch, q), ["new"]);
    await ch.close();
  });
});

describe("length limits and dead-lettering", () => {
  test("x-max-length drops the oldest messages by default (drop-head)", async () => {
    const ch = await client.channel();
    const q = await queue(ch, { "x-max-length": 2 });
    for (const b of ["a", "b", "c"]) await ch.basicPublish("", q, b);
    assert.deepEqual(await drain(ch, q), ["b", "c"]);
    await ch.close();
  });

  test("x-overflow reject-publish nacks the publish that does not fit", async () => {
    const ch = await client.channel();
    const q = await queue(ch, { "x-max-length": 1, "x-overflow": "reject-publish" });
    await ch.confirmSelect();
    await ch.basicPublish("", q, "fits");
    await assert.rejects(ch.basicPublish("", q, "does not fit"), /Message rejected/);
    assert.equal(await readyCount(ch, q), 1);
    await ch.close();
  });

  test("a rejected message goes to the dead-letter exchange with an x-death header", async () => {
    const ch = await client.channel();
    const dlx = uniqueName("dlx");
    await ch.exchangeDeclare(dlx, "fanout", { durable: false, autoDelete: true });
    const dead = await queue(ch);
    await ch.queueBind(dead, dlx, "");
    const q = await queue(ch, { "x-dead-letter-exchange": dlx });
    await ch.basicPublish("", q, "bad");
    const m = await ch.basicGet(q, { noAck: false });
    assert.ok(m);
    await m.reject(false);
    await sleep(50);
    const got = await ch.basicGet(dead, { noAck: true });
    assert.equal(got?.bodyToString(), "bad");
    const headers = got?.properties.headers ?? {};
    assert.equal(headers["x-first-death-reason"], "rejected");
    assert.equal(headers["x-first-death-queue"], q);
    const death = (headers["x-death"] as Record<string, unknown>[])[0]!;
    assert.deepEqual(
      [death.reason, death.queue, death.count, death["routing-keys"]],
      ["rejected", q, 1, [q]],
    );
    await ch.close();
  });
});
