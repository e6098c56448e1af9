import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import {
  type Channel,
  type Connection,
  channelClosed,
  connect,
  sleep,
  take,
  uniqueName,
  withTimeout,
} from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { warrenOnly } from "../support/warren-only.js";

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

async function channel(): Promise<Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return ch;
}

/** A dead-letter exchange with one queue bound by '#', for inspecting what dies. */
async function deadLetterSink(ch: Channel): Promise<{ exchange: string; queue: string }> {
  const exchange = uniqueName("dlx");
  await ch.assertExchange(exchange, "topic", { autoDelete: true });
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(queue, exchange, "#");
  return { exchange, queue };
}

type XDeath = {
  count: number;
  reason: string;
  queue: string;
  exchange: string;
  "routing-keys": string[];
}[];

describe("time to live and expiry (seed 004: stale RPCs)", () => {
  test("an expired message is dead-lettered with reason expired and its original expiration", async () => {
    const ch = await channel();
    const sink = await deadLetterSink(ch);
    const q = uniqueName("ttl");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { "x-dead-letter-exchange": sink.exchange },
    });
    ch.sendToQueue(q, Buffer.from("stale"), { expiration: "100", headers: { keep: "me" } });
    const [dead] = await take(ch, sink.queue, 1, { noAck: true });
    const h = dead!.properties.headers!;
    const deaths = h["x-death"] as XDeath & { "original-expiration"?: string }[];
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.count, 1);
    assert.equal(deaths[0]!.reason, "expired");
    assert.equal(deaths[0]!.queue, q);
    assert.equal(deaths[0]!.exchange, "");
    assert.deepEqual(deaths[0]!["routing-keys"], [q]);
    assert.equal((deaths[0] as { "original-expiration"?: string })["original-expiration"], "100");
    assert.equal(h["x-first-death-reason"], "expired");
    assert.equal(h["x-first-death-queue"], q);
    assert.equal(h.keep, "me");
    assert.equal(
      dead!.properties.expiration,
      undefined,
      "expiration is removed when dead-lettered",
    );
    assert.equal(dead!.fields.exchange, sink.exchange);
  });

  test("x-message-ttl expires messages no consumer took, and never delivers them", async () => {
    const ch = await channel();
    const q = uniqueName("qttl");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-ttl": 150 } });
    ch.sendToQueue(q, Buffer.from("old"));
    await sleep(400);
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
    ch.sendToQueue(q, Buffer.from("fresh"));
    const m = await ch.get(q, { noAck: true });
    assert.ok(m && m.content.toString() === "fresh");
  });

  test("a queue with x-expires is deleted once unused for that long", async () => {
    const ch = await channel();
    const q = uniqueName("expiring");
    await ch.assertQueue(q, { arguments: { "x-expires": 300 } });
    await sleep(150);
    await ch.checkQueue(q);
    await sleep(700);
    const ch2 = await channel();
    await assert.rejects(ch2.checkQueue(q), /404/);
  });
});

describe("length limits", () => {
  test("drop-head dead-letters the oldest messages with reason maxlen", async () => {
    const ch = await channel();
    const sink = await deadLetterSink(ch);
    const q = uniqueName("maxlen");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { "x-max-length": 2, "x-dead-letter-exchange": sink.exchange },
    });
    for (const s of ["a", "b", "c", "d"]) ch.sendToQueue(q, Buffer.from(s));
    const dead = await take(ch, sink.queue, 2, { noAck: true });
    assert.deepEqual(
      dead.map((m) => m.content.toString()),
      ["a", "b"],
    );
    assert.equal((dead[0]!.properties.headers!["x-death"] as XDeath)[0]!.reason, "maxlen");
    const kept = await take(ch, q, 2, { noAck: true });
    assert.deepEqual(
      kept.map((m) => m.content.toString()),
      ["c", "d"],
    );
  });

  test("reject-publish nacks what does not fit; reject-publish-dlx dead-letters it as well", async () => {
    const ch = await conn.createConfirmChannel();
    const sink = await deadLetterSink(ch);
    const q = uniqueName("rp");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: {
        "x-max-length": 1,
        "x-overflow": "reject-publish-dlx",
        "x-dead-letter-exchange": sink.exchange,
      },
    });
    const outcome = (body: string) =>
      new Promise<string>((resolve) =>
        ch.sendToQueue(q, Buffer.from(body), {}, (err) => resolve(err ? "nack" : "ack")),
      );
    assert.equal(await outcome("fits"), "ack");
    assert.equal(await outcome("does not"), "nack");
    const [dead] = await take(ch, sink.queue, 1, { noAck: true });
    assert.equal(dead!.content.toString(), "does not");
    assert.equal((dead!.properties.headers!["x-death"] as XDeath)[0]!.reason, "maxlen");
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
  });
});

describe("dead-lettering", () => {
  test("a rejected message goes to the DLX with x-dead-letter-routing-key and count 1", async () => {
    const ch = await channel();
    const sink = await deadLetterSink(ch);
    const q = uniqueName("rej");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: {
        "x-dead-letter-exchange": sink.exchange,
        "x-dead-letter-routing-key": "failed.orders",
      },
    });
    ch.sendToQueue(q, Buffer.from("bad"), { headers: { CC: ["copy"] } });
    await ch.checkQueue(q);
    const m = await ch.get(q);
    assert.ok(m);
    ch.reject(m, false);
    const [dead] = await take(ch, sink.queue, 1, { noAck: true });
    assert.equal(dead!.fields.routingKey, "failed.orders");
    const h = dead!.properties.headers!;
    assert.equal(h.CC, undefined, "with a dead-letter routing key the CC header goes");
    const deaths = h["x-death"] as XDeath;
    assert.deepEqual(deaths[0]!["routing-keys"], [q, "copy"]);
    assert.equal(deaths[0]!.reason, "rejected");
  });

  test("the same death twice increments count; an automatic cycle is cut", async () => {
    // q1 --reject--> dlx --> q1 again: a rejection breaks cycles, so it comes back with count 2.
    const ch = await channel();
    const dlx = uniqueName("loop");
    await ch.assertExchange(dlx, "fanout", { autoDelete: false });
    const q = uniqueName("loopq");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-dead-letter-exchange": dlx } });
    await ch.bindQueue(q, dlx, "");
    ch.sendToQueue(q, Buffer.from("x"));
    for (let i = 1; i <= 2; i++) {
      await sleep(30);
      const m = await ch.get(q);
      assert.ok(m, `round ${i}`);
      if (i === 2) assert.equal((m.properties.headers!["x-death"] as XDeath)[0]!.count, 1);
      ch.reject(m, false);
    }
    await sleep(30);
    const third = await ch.get(q, { noAck: true });
    assert.ok(third);
    assert.equal((third.properties.headers!["x-death"] as XDeath)[0]!.count, 2);
    // Now an expiry loop (no rejection in the cycle) is dropped instead of going round forever.
    const q2 = uniqueName("ttlloop");
    await ch.assertQueue(q2, {
      exclusive: true,
      arguments: { "x-dead-letter-exchange": dlx, "x-message-ttl": 50 },
    });
    await ch.unbindQueue(q, dlx, "");
    await ch.bindQueue(q2, dlx, "");
    ch.sendToQueue(q2, Buffer.from("cycler"));
    await sleep(500);
    assert.equal((await ch.checkQueue(q2)).messageCount, 0, "the cycling message was dropped");
    if (broker.isWarren) {
      await broker.waitForLog(
        (l) => String(l.msg).includes(`dead-letter queues cycle detected (${q2} -> ${q2}`),
        2000,
      );
    }
    await ch.deleteExchange(dlx);
  });
});

// Beyond RabbitMQ (docs/COMPATIBILITY.md): classic queues have no x-delivery-limit there,
// x-retry-delay is Warren's, and the two exchange types need RabbitMQ plugins.
const beyondRabbitMq = warrenOnly("a Warren feature beyond RabbitMQ's classic queues");

describe("poison messages", { skip: beyondRabbitMq }, () => {
  test("past x-delivery-limit a message is dead-lettered with reason delivery_limit", async () => {
    const ch = await channel();
    const sink = await deadLetterSink(ch);
    const q = uniqueName("poison");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { "x-delivery-limit": 2, "x-dead-letter-exchange": sink.exchange },
    });
    ch.sendToQueue(q, Buffer.from("poison"));
    const counts: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(30);
      const m = await ch.get(q);
      assert.ok(m, `delivery ${i + 1}`);
      counts.push(m.properties.headers?.["x-delivery-count"] as number | undefined);
      ch.nack(m, false, true);
    }
    assert.deepEqual(counts, [undefined, 1, 2]);
    const [dead] = await take(ch, sink.queue, 1, { noAck: true });
    assert.equal((dead!.properties.headers!["x-death"] as XDeath)[0]!.reason, "delivery_limit");
    assert.equal((await ch.checkQueue(q)).messageCount, 0);
  });

  test("x-retry-delay holds a nacked message back, doubling each time", async () => {
    const ch = await channel();
    const q = uniqueName("retry");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { "x-retry-delay": 200, "x-retry-delay-max": 1000 },
    });
    ch.sendToQueue(q, Buffer.from("flaky"));
    const times: number[] = [];
    await ch.prefetch(1);
    const done = new Promise<void>((resolve) => {
      void ch.consume(q, (m) => {
        if (!m) return;
        times.push(Date.now());
        if (times.length < 3) ch.nack(m, false, true);
        else {
          ch.ack(m);
          resolve();
        }
      });
    });
    await withTimeout(done, 5000, "three deliveries");
    const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
    // Delays are 200 ms then 400 ms; the tick runs every 200 ms, and CI machines are busy.
    assert.ok(gaps[0]! >= 180 && gaps[0]! < 1500, `first retry after ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 380 && gaps[1]! < 2500, `second retry after ${gaps[1]} ms`);
  });
});

describe("consumers", () => {
  test("single active consumer: only one gets messages; the next takes over when it goes", async () => {
    const q = uniqueName("sac");
    const setup = await channel();
    await setup.assertQueue(q, {
      exclusive: false,
      autoDelete: true,
      arguments: { "x-single-active-consumer": true },
    });
    const a = await channel();
    const b = await channel();
    const gotA: string[] = [];
    const gotB: string[] = [];
    const { consumerTag } = await a.consume(q, (m) => m && gotA.push(m.content.toString()), {
      noAck: true,
    });
    await b.consume(q, (m) => m && gotB.push(m.content.toString()), { noAck: true });
    for (let i = 0; i < 4; i++) setup.sendToQueue(q, Buffer.from(`m${i}`));
    await sleep(100);
    assert.deepEqual([gotA.length, gotB.length], [4, 0]);
    await a.cancel(consumerTag);
    setup.sendToQueue(q, Buffer.from("after"));
    await sleep(100);
    assert.deepEqual(gotB, ["after"]);
    await b.close();
  });

  test("an unacknowledged delivery past x-consumer-timeout closes the channel with 406 and requeues it", async () => {
    const q = uniqueName("slow");
    const setup = await channel();
    await setup.assertQueue(q, { exclusive: true, arguments: { "x-consumer-timeout": 300 } });
    setup.sendToQueue(q, Buffer.from("held"));
    const slow = await conn.createChannel();
    const closed = channelClosed(slow);
    await slow.consume(q, () => {}, { noAck: false });
    const err = await withTimeout(closed, 3000, "consumer timeout");
    assert.equal(err.code, 406);
    assert.match(
      err.message,
      /delivery acknowledgement on channel \d+ timed out\. Timeout value used: 300 ms/,
    );
    const back = await setup.get(q, { noAck: true });
    assert.ok(back !== false, "the message came back to the queue");
    assert.equal(back.fields.redelivered, true);
  });
});

describe("built-in exchange types", {
  skip: warrenOnly("RabbitMQ needs plugins for these exchange types"),
}, () => {
  test("x-consistent-hash sends each routing key to one queue, always the same, spread by weight", async () => {
    const ch = await conn.createConfirmChannel();
    const ex = uniqueName("chash");
    await ch.assertExchange(ex, "x-consistent-hash", { autoDelete: true });
    const qs: string[] = [];
    for (const weight of ["100", "100", "300"]) {
      const { queue } = await ch.assertQueue("", { exclusive: true });
      await ch.bindQueue(queue, ex, weight);
      qs.push(queue);
    }
    // 1,500 distinct keys, each published twice.
    for (let i = 0; i < 3000; i++) ch.publish(ex, `key-${i % 1500}`, Buffer.from(String(i % 1500)));
    await ch.waitForConfirms();
    const counts = await Promise.all(qs.map(async (q) => (await ch.checkQueue(q)).messageCount));
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      3000,
    );
    assert.ok(
      counts.every((c) => c > 0),
      `every queue gets some: ${counts}`,
    );
    assert.ok(
      counts[2]! > counts[0]! && counts[2]! > counts[1]!,
      `the weight-300 queue gets the most: ${counts}`,
    );
    // The same key always lands in the same queue.
    const seen = new Map<string, string>();
    for (const q of qs) {
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
        const k = m.content.toString();
        assert.ok(!seen.has(k) || seen.get(k) === q, `key ${k} in two queues`);
        seen.set(k, q);
      }
    }
    assert.equal(seen.size, 1500);
  });

  test("x-delayed-message holds a message for its x-delay, then routes it by x-delayed-type", async () => {
    const ch = await channel();
    const ex = uniqueName("delayed");
    await ch.assertExchange(ex, "x-delayed-message", {
      autoDelete: true,
      arguments: { "x-delayed-type": "direct" },
    });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, ex, "later");
    const sent = Date.now();
    ch.publish(ex, "later", Buffer.from("wait for it"), { headers: { "x-delay": 400 } });
    ch.publish(ex, "later", Buffer.from("no delay"));
    const got: amqp.ConsumeMessage[] = await take(ch, queue, 2, { noAck: true });
    assert.deepEqual(
      got.map((m) => m.content.toString()),
      ["no delay", "wait for it"],
    );
    const elapsed = Date.now() - sent;
    assert.ok(elapsed >= 380, `delivered after ${elapsed} ms`);
  });

  test("an x-delayed-message exchange without x-delayed-type is refused", async () => {
    const ch = await channel();
    await assert.rejects(ch.assertExchange(uniqueName("d"), "x-delayed-message"), /x-delayed-type/);
  });
});
