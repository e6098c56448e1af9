import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AMQPChannel, AMQPClient } from "@cloudamqp/amqp-client";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { connectCloudAmqp, settle } from "../support/cloudamqp-helpers.js";

// Queue features RabbitMQ clients rely on (rabbitmq-reference.md §4), with
// @cloudamqp/amqp-client. Message priorities, TTL, length limits and dead-lettering
// join this file as Warren implements them.

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

describe("priorities", () => {
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
