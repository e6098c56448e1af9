import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type Connection,
  channelClosed,
  connect,
  rejectsWith,
  sleep,
  take,
  uniqueName,
  withTimeout,
} from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { TcpProxy } from "../support/tcp-proxy.js";

let broker: BrokerUnderTest;
let conn: Connection;

before(async () => {
  broker = await startBroker();
  conn = await connect(broker.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  await broker?.stop();
});

describe("publish and consume with amqplib", () => {
  test("messages published to the default exchange arrive in order with their properties", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    for (let i = 0; i < 50; i++) {
      ch.sendToQueue(q, Buffer.from(`m${i}`), {
        contentType: "text/plain",
        headers: { n: i, nested: { ok: true } },
        messageId: `id-${i}`,
        priority: 3,
        timestamp: 1700000000,
      });
    }
    const got = await take(ch, q, 50, { noAck: true });
    assert.deepEqual(
      got.map((m) => m.content.toString()),
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
    const last = got[49]!;
    assert.equal(last.properties.contentType, "text/plain");
    assert.equal(last.properties.messageId, "id-49");
    assert.equal(last.properties.priority, 3);
    assert.equal(last.properties.timestamp, 1700000000);
    assert.deepEqual(last.properties.headers, { n: 49, nested: { ok: true } });
    assert.equal(last.fields.routingKey, q);
    assert.equal(last.fields.redelivered, false);
    await ch.close();
  });

  test("a large message is split into frames and reassembled byte for byte", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    const body = Buffer.alloc(1_000_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    ch.sendToQueue(q, body);
    const [m] = await take(ch, q, 1, { noAck: true });
    assert.ok(m!.content.equals(body));
    await ch.close();
  });

  test("basic.get returns messages with the remaining count, then get-empty", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from("a"));
    ch.sendToQueue(q, Buffer.from("b"));
    await ch.checkQueue(q); // a round trip so both publishes are in
    const first = await ch.get(q, { noAck: true });
    assert.ok(first);
    assert.equal(first.content.toString(), "a");
    assert.equal(first.fields.messageCount, 1);
    const second = await ch.get(q, { noAck: false });
    assert.ok(second);
    ch.ack(second);
    assert.equal(await ch.get(q), false);
    await ch.close();
  });

  test("prefetch limits unacknowledged deliveries per consumer", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    for (let i = 0; i < 20; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.prefetch(5);
    const got: string[] = [];
    await ch.consume(q, (m) => {
      if (m) got.push(m.content.toString());
    });
    await sleep(200);
    assert.equal(got.length, 5, "only the prefetch window is delivered before acks");
    await ch.close();
  });

  test("nack with requeue puts the message back in its place with redelivered set", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    for (const s of ["a", "b", "c"]) ch.sendToQueue(q, Buffer.from(s));
    await ch.checkQueue(q);
    const a = await ch.get(q);
    const b = await ch.get(q);
    assert.ok(a && b);
    ch.nack(a, false, true);
    const order = [];
    for (let i = 0; i < 2; i++) {
      const m = await ch.get(q, { noAck: true });
      assert.ok(m);
      order.push([m.content.toString(), m.fields.redelivered]);
    }
    assert.deepEqual(order, [
      ["a", true],
      ["c", false],
    ]);
    ch.ack(b);
    await ch.close();
  });

  test("reject without requeue drops the message", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from("x"));
    await ch.checkQueue(q);
    const m = await ch.get(q);
    assert.ok(m);
    ch.reject(m, false);
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    assert.equal(await ch.get(q), false);
    await ch.close();
  });

  test("ack with multiple acknowledges every delivery up to the tag", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    const msgs = [];
    await ch.checkQueue(q);
    for (let i = 0; i < 5; i++)
      msgs.push((await ch.get(q)) as Exclude<Awaited<ReturnType<typeof ch.get>>, false>);
    ch.ack(msgs[3]!, true);
    ch.nack(msgs[4]!, false, true);
    const back = await ch.get(q, { noAck: true });
    assert.ok(back);
    assert.equal(back.content.toString(), "4");
    assert.equal(await ch.get(q), false);
    await ch.close();
  });

  test("acking an unknown delivery tag closes the channel with 406", async () => {
    const ch = await conn.createChannel();
    const closed = channelClosed(ch);
    ch.ack({ fields: { deliveryTag: 999 } } as never);
    const err = await closed;
    assert.equal(err.code, 406);
    assert.match(err.message, /unknown delivery tag 999/);
  });

  test("basic.recover requeues every unacknowledged delivery as redelivered", async () => {
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from("r"));
    await ch.checkQueue(q);
    const m = await ch.get(q);
    assert.ok(m);
    await ch.recover();
    const again = await ch.get(q, { noAck: true });
    assert.ok(again);
    assert.equal(again.fields.redelivered, true);
    await ch.close();
  });
});

describe("failure modes from seed 004 with amqplib", () => {
  test("a dropped connection requeues its unacknowledged messages as redelivered", async () => {
    const q = uniqueName("drop");
    const setup = await conn.createChannel();
    await setup.assertQueue(q, { autoDelete: false });
    setup.sendToQueue(q, Buffer.from("work"));
    const proxy = new TcpProxy(broker.host, broker.port);
    const victim = await connect(await proxy.start());
    const lost = new Promise<void>((resolve) => victim.on("error", () => resolve()));
    const vch = await victim.createChannel();
    const [m] = await take(vch, q, 1);
    assert.equal(m!.fields.redelivered, false);
    // Cut the TCP connection without a close handshake.
    await proxy.stop();
    await withTimeout(lost, 3000, "the client noticing the cut");
    await sleep(200);
    const again = await setup.get(q, { noAck: true });
    assert.ok(again, "the message is back in the queue");
    assert.equal(again.content.toString(), "work");
    assert.equal(again.fields.redelivered, true);
    await setup.deleteQueue(q);
    await setup.close();
  });

  test("a channel error closes only that channel; the connection and other channels keep working", async () => {
    const good = await conn.createChannel();
    const bad = await conn.createChannel();
    const closed = channelClosed(bad);
    await rejectsWith(
      bad.checkQueue(uniqueName("missing")),
      404,
      /NOT_FOUND - no queue '.*' in vhost '\/'/,
    );
    await closed;
    const q = (await good.assertQueue("", { exclusive: true })).queue;
    good.sendToQueue(q, Buffer.from("still fine"));
    const [m] = await take(good, q, 1, { noAck: true });
    assert.equal(m!.content.toString(), "still fine");
    const third = await conn.createChannel();
    await third.checkQueue(q);
    await third.close();
    await good.close();
  });

  test("an unroutable mandatory message comes back with 312 NO_ROUTE", async () => {
    const ch = await conn.createChannel();
    const returned = new Promise<{ code: number; text: string; body: string }>((resolve) => {
      ch.once("return", (m) =>
        resolve({ code: m.fields.replyCode, text: m.fields.replyText, body: m.content.toString() }),
      );
    });
    ch.publish("amq.direct", uniqueName("nowhere"), Buffer.from("lost?"), { mandatory: true });
    const r = await withTimeout(returned, 3000, "basic.return");
    assert.deepEqual(r, { code: 312, text: "NO_ROUTE", body: "lost?" });
    await ch.close();
  });

  test("a crashed consumer's messages are redelivered to another consumer", async () => {
    const q = uniqueName("crash");
    const setup = await conn.createChannel();
    await setup.assertQueue(q);
    for (let i = 0; i < 3; i++) setup.sendToQueue(q, Buffer.from(`job${i}`));
    const proxy = new TcpProxy(broker.host, broker.port);
    const crashing = await connect(await proxy.start());
    crashing.on("error", () => {});
    const cch = await crashing.createChannel();
    await cch.prefetch(3);
    const received = new Promise<void>((resolve) => {
      let n = 0;
      void cch.consume(q, () => {
        if (++n === 3) resolve();
      });
    });
    await withTimeout(received, 3000, "3 deliveries before the crash");
    await proxy.stop();
    const survivor = await conn.createChannel();
    const got = await take(survivor, q, 3);
    assert.deepEqual(got.map((m) => m.content.toString()).sort(), ["job0", "job1", "job2"]);
    assert.ok(got.every((m) => m.fields.redelivered));
    for (const m of got) survivor.ack(m);
    await setup.deleteQueue(q);
    await setup.close();
    await survivor.close();
  });

  test("deleting a queue cancels its consumers with basic.cancel", async () => {
    const q = uniqueName("doomed");
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    const cancelled = new Promise<unknown>((resolve) => {
      void ch.consume(q, (m) => {
        if (m === null) resolve(null);
      });
    });
    await sleep(50);
    const other = await conn.createChannel();
    await other.deleteQueue(q);
    assert.equal(await withTimeout(cancelled, 3000, "consumer cancel notification"), null);
    await other.close();
    await ch.close();
  });
});

describe("publisher confirms with amqplib", () => {
  test("confirms arrive for every publish, routed or not", async () => {
    const ch = await conn.createConfirmChannel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    let acked = 0;
    for (let i = 0; i < 500; i++) {
      ch.sendToQueue(q, Buffer.from(String(i)), {}, (err) => {
        if (!err) acked++;
      });
    }
    ch.publish("amq.direct", "unroutable", Buffer.from("x"), {}, (err) => {
      if (!err) acked++;
    });
    await ch.waitForConfirms();
    assert.equal(acked, 501);
    assert.equal((await ch.checkQueue(q)).messageCount, 500);
    await ch.close();
  });

  test("publishing to a missing exchange closes the channel with 404", async () => {
    const ch = await conn.createChannel();
    const closed = channelClosed(ch);
    ch.publish(uniqueName("nope"), "k", Buffer.from("x"));
    const err = await closed;
    assert.equal(err.code, 404);
    assert.match(err.message, /NOT_FOUND - no exchange 'nope-.*' in vhost '\/'/);
  });
});
