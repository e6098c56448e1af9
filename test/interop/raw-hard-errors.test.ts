import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertBrokerStillServes } from "../support/broker-health.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { type CloseFields, RawAmqpClient } from "../support/raw-amqp-client.js";

// Channel methods that RabbitMQ answers with a connection error (hard codes 530 and
// 540 close the connection even when raised on a channel; rabbitmq-reference.md §0, §3).

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

/** Opens channel 1, runs `abuse`, expects this connection.close, then checks the broker. */
async function expectHardError(
  abuse: (c: RawAmqpClient) => Promise<void> | void,
  expected: CloseFields,
): Promise<void> {
  const { client } = await RawAmqpClient.open(broker.host, broker.port);
  try {
    await client.openChannel(1);
    await abuse(client);
    assert.deepEqual(await client.expectConnectionClose(), expected);
    client.sendCloseOk();
    await client.waitClosed(5000); // close-ok ends the connection
  } finally {
    client.destroy();
  }
  await assertBrokerStillServes(broker.url);
}

const consume = (queue: string, consumerTag: string) =>
  ({
    name: "basic.consume",
    queue,
    consumerTag,
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  }) as const;

describe("channel methods that close the connection", () => {
  test("reusing a consumer tag on a channel is 530 NOT_ALLOWED", async () => {
    await expectHardError(
      async (c) => {
        const q = await c.declareQueue(1);
        c.sendMethod(1, consume(q, "dup"));
        await c.expect("basic.consume-ok", 1);
        c.sendMethod(1, consume(q, "dup"));
      },
      {
        replyCode: 530,
        replyText: "NOT_ALLOWED - attempt to reuse consumer tag 'dup'",
        classId: 60,
        methodId: 20,
      },
    );
  });

  test("basic.qos with a prefetch_size is 540 NOT_IMPLEMENTED", async () => {
    await expectHardError(
      (c) =>
        c.sendMethod(1, { name: "basic.qos", prefetchSize: 10, prefetchCount: 0, global: false }),
      {
        replyCode: 540,
        replyText: "NOT_IMPLEMENTED - prefetch_size!=0 (10)",
        classId: 60,
        methodId: 10,
      },
    );
  });

  test("basic.publish with immediate=true is 540 NOT_IMPLEMENTED", async () => {
    await expectHardError((c) => c.publish(1, "", "q", Buffer.from("x"), { immediate: true }), {
      replyCode: 540,
      replyText: "NOT_IMPLEMENTED - immediate=true",
      classId: 60,
      methodId: 40,
    });
  });

  test("basic.recover with requeue=false is 540 NOT_IMPLEMENTED", async () => {
    await expectHardError((c) => c.sendMethod(1, { name: "basic.recover", requeue: false }), {
      replyCode: 540,
      replyText: "NOT_IMPLEMENTED - requeue=false",
      classId: 60,
      methodId: 110,
    });
  });

  test("channel.flow active=false is 540 NOT_IMPLEMENTED (consumers use prefetch)", async () => {
    await expectHardError((c) => c.sendMethod(1, { name: "channel.flow", active: false }), {
      replyCode: 540,
      replyText: "NOT_IMPLEMENTED - active=false",
      classId: 20,
      methodId: 20,
    });
  });

  test("channel.flow active=true is answered with flow-ok active=true", async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port);
    try {
      await client.openChannel(1);
      client.sendMethod(1, { name: "channel.flow", active: true });
      assert.equal((await client.expect("channel.flow-ok", 1)).active, true);
    } finally {
      client.destroy();
    }
  });
});
