import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type AsyncMessage, Connection, type ReturnedMessage } from "rabbitmq-client";
import { uniqueName, withTimeout } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { TcpProxy } from "../support/tcp-proxy.js";

// The rabbitmq-client package: its Publisher, Consumer and RPCClient helpers.

let broker: BrokerUnderTest;
let rabbit: Connection;

before(async () => {
  broker = await startBroker();
  rabbit = new Connection({ url: broker.url, connectionTimeout: 5000, retryLow: 50 });
  rabbit.on("error", () => {});
  await rabbit.onConnect(5000);
});

after(async () => {
  await rabbit?.close();
  await broker?.stop();
});

/** A queue that the test deletes itself (rabbitmq-client's helpers use channels of their own). */
async function tempQueue(prefix: string): Promise<string> {
  const queue = uniqueName(prefix);
  await rabbit.queueDeclare({ queue, autoDelete: false, durable: false });
  return queue;
}

describe("rabbitmq-client", () => {
  test("a confirming publisher's sends resolve once the broker has the messages", async () => {
    const queue = await tempQueue("pub");
    const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 1 });
    try {
      for (let i = 0; i < 20; i++) await publisher.send({ routingKey: queue }, `m${i}`);
      const ok = await rabbit.queueDeclare({ queue, passive: true });
      assert.equal(ok.messageCount, 20);
      const first = await rabbit.basicGet({ queue, noAck: true });
      assert.equal(first?.body, "m0");
    } finally {
      await publisher.close();
      await rabbit.queueDelete(queue);
    }
  });

  test("an unroutable mandatory send comes back on the publisher's basic.return", async () => {
    const publisher = rabbit.createPublisher({ confirm: true });
    try {
      const returned = new Promise<ReturnedMessage>((resolve) =>
        publisher.on("basic.return", resolve),
      );
      const key = uniqueName("nowhere");
      await publisher.send({ exchange: "amq.direct", routingKey: key, mandatory: true }, "lost");
      const r = await withTimeout(returned, 3000, "basic.return");
      assert.deepEqual(
        [r.replyCode, r.replyText, r.exchange, r.routingKey, r.body],
        [312, "NO_ROUTE", "amq.direct", key, "lost"],
      );
    } finally {
      await publisher.close();
    }
  });

  test("a consumer acks what its handler accepts and the queue ends empty", async () => {
    const queue = await tempQueue("consume");
    const got: string[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const consumer = rabbit.createConsumer({ queue, qos: { prefetchCount: 5 } }, (msg) => {
      got.push(msg.body as string);
      if (got.length === 30) done();
    });
    consumer.on("error", () => {});
    const publisher = rabbit.createPublisher({ confirm: true });
    try {
      for (let i = 0; i < 30; i++) await publisher.send(queue, `m${i}`);
      await withTimeout(all, 5000, `30 deliveries, got ${got.length}`);
      await consumer.close(); // waits for the handlers, whose acks are sent first
      assert.deepEqual(
        got,
        Array.from({ length: 30 }, (_, i) => `m${i}`),
      );
      const ok = await rabbit.queueDeclare({ queue, passive: true });
      assert.deepEqual([ok.messageCount, ok.consumerCount], [0, 0]);
    } finally {
      await publisher.close();
      await consumer.close();
      await rabbit.queueDelete(queue);
    }
  });

  test("a handler that throws gets its message requeued and redelivered", async () => {
    const queue = await tempQueue("retry");
    const seen: { body: unknown; redelivered: boolean }[] = [];
    let done!: () => void;
    const twice = new Promise<void>((r) => {
      done = r;
    });
    const consumer = rabbit.createConsumer({ queue }, (msg: AsyncMessage) => {
      seen.push({ body: msg.body, redelivered: msg.redelivered });
      if (seen.length === 1) throw new Error("fail the first time");
      done();
    });
    consumer.on("error", () => {});
    const publisher = rabbit.createPublisher();
    try {
      await publisher.send(queue, "job");
      await withTimeout(twice, 5000, "the redelivery");
      assert.deepEqual(seen, [
        { body: "job", redelivered: false },
        { body: "job", redelivered: true },
      ]);
    } finally {
      await publisher.close();
      await consumer.close();
      await rabbit.queueDelete(queue);
    }
  });

  test("an RPC call is answered through direct reply-to (amq.rabbitmq.reply-to)", async () => {
    const queue = await tempQueue("rpc");
    const replyTos: string[] = [];
    const server = rabbit.createConsumer({ queue }, async (req, reply) => {
      replyTos.push(req.replyTo ?? "");
      await reply(`pong:${req.body}`);
    });
    server.on("error", () => {});
    const rpc = rabbit.createRPCClient({ confirm: true, timeout: 5000 });
    try {
      const res = await rpc.send(queue, "ping");
      assert.equal(res.body, "pong:ping");
      const again = await rpc.send(queue, "again");
      assert.equal(again.body, "pong:again");
      // The broker rewrote the pseudo-queue name into a private reply address.
      assert.equal(replyTos.length, 2);
      assert.match(replyTos[0]!, /^amq\.rabbitmq\.reply-to\.\S+$/);
    } finally {
      await rpc.close();
      await server.close();
      await rabbit.queueDelete(queue);
    }
  });

  test("deleting a consumed queue cancels the consumer with a server basic.cancel", async () => {
    const queue = await tempQueue("doomed");
    const consumer = rabbit.createConsumer({ queue, queueOptions: { passive: true } }, () => {});
    const cancelled = new Promise<{ code?: string }>((resolve) => consumer.once("error", resolve));
    await withTimeout(new Promise((r) => consumer.once("ready", r)), 5000, "the consumer to start");
    try {
      const before = await rabbit.queueDeclare({ queue, passive: true });
      assert.equal(before.consumerCount, 1);
      await rabbit.queueDelete(queue);
      const err = await withTimeout(cancelled, 3000, "the cancel notification");
      assert.equal(err.code, "CANCEL_FORCED");
    } finally {
      await consumer.close();
    }
  });

  test("after a cut connection the client reconnects and its consumer gets the unacked message again", async () => {
    const queue = await tempQueue("reconnect");
    const proxy = new TcpProxy(broker.host, broker.port);
    const proxyUrl = await proxy.start();
    const flaky = new Connection({ url: proxyUrl, retryLow: 50, retryHigh: 200 });
    flaky.on("error", () => {});
    const seen: { body: unknown; redelivered: boolean }[] = [];
    let cutDone = false;
    let afterCut!: () => void;
    const cutHappened = new Promise<void>((r) => {
      afterCut = r;
    });
    let resolveAgain!: () => void;
    const again = new Promise<void>((r) => {
      resolveAgain = r;
    });
    let resolveFirst!: () => void;
    const first = new Promise<void>((r) => {
      resolveFirst = r;
    });
    const consumer = flaky.createConsumer({ queue, queueOptions: { passive: true } }, async (m) => {
      seen.push({ body: m.body, redelivered: m.redelivered });
      if (!cutDone) {
        resolveFirst();
        // Unacked until the cut; the ack it then tries goes nowhere. (The client waits
        // for running handlers before it reconnects.)
        await cutHappened;
        return;
      }
      resolveAgain();
    });
    consumer.on("error", () => {});
    const publisher = rabbit.createPublisher({ confirm: true });
    try {
      await publisher.send(queue, "work");
      await withTimeout(first, 5000, "the first delivery");
      cutDone = true;
      proxy.cut();
      afterCut();
      await withTimeout(again, 10_000, "the redelivery after reconnecting");
      assert.deepEqual(seen, [
        { body: "work", redelivered: false },
        { body: "work", redelivered: true },
      ]);
    } finally {
      await publisher.close();
      flaky.unsafeDestroy();
      await proxy.stop();
      await rabbit.queueDelete(queue);
    }
  });
});
