/**
 * Quorum queues on a node that runs alone (a Raft group of one per queue, logs in <data-dir>/quorum), through amqplib:
 * declare, confirmed publishes, consume with prefetch and ack, nack with requeue counting
 * x-delivery-count up to the delivery limit and dead-lettering past it, basic.get, purge,
 * and everything confirmed still there after kill -9.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { eventually } from "../support/eventually.js";
import { warrenOnly } from "../support/warren-only.js";

const QQ = { "x-queue-type": "quorum" };

async function publishConfirmed(ch: ConfirmChannel, queue: string, bodies: string[]) {
  for (const body of bodies) ch.sendToQueue(queue, Buffer.from(body), { persistent: true });
  await ch.waitForConfirms();
}

describe("quorum queues on a single node", () => {
  let broker: BrokerUnderTest;
  let conn: ChannelModel;

  before(async () => {
    broker = await startBroker();
    conn = await amqp.connect(broker.url);
  });

  after(async () => {
    await conn?.close().catch(() => {});
    await broker?.stop();
  });

  it("declares a quorum queue, confirms publishes and delivers them in order with acks", async () => {
    const ch = await conn.createConfirmChannel();
    const ok = await ch.assertQueue("qq-basic", { durable: true, arguments: QQ });
    assert.equal(ok.queue, "qq-basic");
    const bodies = Array.from({ length: 500 }, (_, i) => `m${i}`);
    await publishConfirmed(ch, "qq-basic", bodies);
    const check = await ch.checkQueue("qq-basic");
    assert.equal(check.messageCount, 500);
    const got: string[] = [];
    await ch.prefetch(20);
    await new Promise<void>((resolve) => {
      ch.consume("qq-basic", (m) => {
        if (!m) return;
        got.push(m.content.toString());
        ch.ack(m);
        if (got.length === bodies.length) resolve();
      });
    });
    assert.deepEqual(got, bodies);
    await eventually("the acks to empty the queue", async () => {
      const c = await conn.createChannel();
      const q = await c.checkQueue("qq-basic");
      await c.close();
      return q.messageCount === 0;
    });
    await ch.close();
  });

  it("counts x-delivery-count on requeue and dead-letters past the delivery limit", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("qq-dlx", "fanout", { durable: true });
    await ch.assertQueue("qq-dead", { durable: true });
    await ch.bindQueue("qq-dead", "qq-dlx", "");
    await ch.assertQueue("qq-poison", {
      durable: true,
      arguments: { ...QQ, "x-delivery-limit": 2, "x-dead-letter-exchange": "qq-dlx" },
    });
    await publishConfirmed(ch, "qq-poison", ["poison"]);
    const counts: (number | undefined)[] = [];
    await new Promise<void>((resolve) => {
      ch.consume("qq-poison", (m) => {
        if (!m) return;
        counts.push(m.properties.headers?.["x-delivery-count"] as number | undefined);
        ch.nack(m, false, true);
        if (counts.length === 3) resolve();
      });
    });
    assert.deepEqual(counts, [undefined, 1, 2]);
    let dead: amqp.GetMessage | false = false;
    await eventually("the poison message to be dead-lettered", async () => {
      dead = await ch.get("qq-dead", { noAck: true });
      return dead !== false;
    });
    const m = dead as unknown as amqp.GetMessage;
    assert.equal(m.content.toString(), "poison");
    const deaths = m.properties.headers?.["x-death"] as { reason: string }[] | undefined;
    const death = deaths?.[0];
    assert.equal(death?.reason, "delivery_limit");
    await ch.close();
  });

  it("serves basic.get and purge", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-get", { durable: true, arguments: QQ });
    await publishConfirmed(ch, "qq-get", ["a", "b", "c"]);
    const first = await ch.get("qq-get", { noAck: false });
    assert.ok(first);
    assert.equal(first.content.toString(), "a");
    assert.equal(first.fields.messageCount, 2);
    ch.ack(first);
    const purged = await ch.purgeQueue("qq-get");
    assert.equal(purged.messageCount, 2);
    assert.equal(await ch.get("qq-get"), false);
    await ch.close();
  });

  it("refuses a publish over x-max-length with reject-publish (nack), drops the head with drop-head", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-full", {
      durable: true,
      arguments: { ...QQ, "x-max-length": 2, "x-overflow": "reject-publish" },
    });
    await publishConfirmed(ch, "qq-full", ["a", "b"]);
    const nacked = await new Promise<boolean>((resolve) =>
      ch.sendToQueue("qq-full", Buffer.from("c"), { persistent: true }, (err) =>
        resolve(err !== null && err !== undefined),
      ),
    );
    assert.equal(nacked, true, "the third publish is nacked");
    await ch.assertQueue("qq-drop", { durable: true, arguments: { ...QQ, "x-max-length": 2 } });
    await publishConfirmed(ch, "qq-drop", ["a", "b", "c"]);
    const left: string[] = [];
    for (
      let m = await ch.get("qq-drop", { noAck: true });
      m;
      m = await ch.get("qq-drop", { noAck: true })
    )
      left.push(m.content.toString());
    assert.deepEqual(left, ["b", "c"]);
    await ch.close();
  });

  it("drops messages past x-message-ttl and serves high priorities first", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-ttl", { durable: true, arguments: { ...QQ, "x-message-ttl": 200 } });
    await publishConfirmed(ch, "qq-ttl", ["old"]);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(await ch.get("qq-ttl"), false, "the expired message is gone");
    await ch.assertQueue("qq-prio", { durable: true, arguments: QQ });
    ch.sendToQueue("qq-prio", Buffer.from("n1"), { persistent: true });
    ch.sendToQueue("qq-prio", Buffer.from("h1"), { persistent: true, priority: 9 });
    ch.sendToQueue("qq-prio", Buffer.from("h2"), { persistent: true, priority: 5 });
    await ch.waitForConfirms();
    const order: string[] = [];
    for (
      let m = await ch.get("qq-prio", { noAck: true });
      m;
      m = await ch.get("qq-prio", { noAck: true })
    )
      order.push(m.content.toString());
    assert.deepEqual(order, ["h1", "h2", "n1"]);
    await ch.close();
  });

  it("gives everything to the single active consumer and hands over when it goes", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-sac", {
      durable: true,
      arguments: { ...QQ, "x-single-active-consumer": true },
    });
    const c1 = await conn.createChannel();
    const c2 = await conn.createChannel();
    const first: string[] = [];
    const second: string[] = [];
    const collect = (into: string[], c: amqp.Channel) => (m: amqp.ConsumeMessage | null) => {
      if (!m) return;
      into.push(m.content.toString());
      c.ack(m);
    };
    await c1.consume("qq-sac", collect(first, c1));
    await c2.consume("qq-sac", collect(second, c2));
    await publishConfirmed(ch, "qq-sac", ["s1", "s2", "s3"]);
    await eventually("the active consumer to get all three", () => first.length === 3);
    assert.deepEqual(second, []);
    await c1.close();
    await publishConfirmed(ch, "qq-sac", ["s4"]);
    await eventually("the next consumer to take over", () => second.length === 1);
    assert.deepEqual(second, ["s4"]);
    await c2.close();
    await ch.close();
  });

  it("dead-letters at-least-once: a rejected message waits in the queue until a target takes it", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("qq-alo-dlx", "direct", { durable: true });
    await ch.assertQueue("qq-alo", {
      durable: true,
      arguments: {
        ...QQ,
        "x-dead-letter-exchange": "qq-alo-dlx",
        "x-dead-letter-routing-key": "dead",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      },
    });
    await publishConfirmed(ch, "qq-alo", ["keep-me"]);
    const m = await ch.get("qq-alo", { noAck: false });
    assert.ok(m);
    ch.nack(m, false, false);
    // No queue is bound to the dead-letter exchange yet: the message is not dropped.
    await new Promise((r) => setTimeout(r, 1_000));
    await ch.assertQueue("qq-alo-target", { durable: true });
    await ch.bindQueue("qq-alo-target", "qq-alo-dlx", "dead");
    let dead: amqp.GetMessage | false = false;
    await eventually(
      "the retried dead-letter to reach its target",
      async () => {
        dead = await ch.get("qq-alo-target", { noAck: true });
        return dead !== false;
      },
      25_000,
    );
    assert.equal((dead as unknown as amqp.GetMessage).content.toString(), "keep-me");
    await ch.close();
  });

  it("holds a requeued message for its x-retry-delay before offering it again", {
    skip: warrenOnly("x-retry-delay is Warren's"),
  }, async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-retry", { durable: true, arguments: { ...QQ, "x-retry-delay": 800 } });
    await publishConfirmed(ch, "qq-retry", ["again"]);
    const times: number[] = [];
    await new Promise<void>((resolve) => {
      ch.consume("qq-retry", (m) => {
        if (!m) return;
        times.push(Date.now());
        if (times.length === 1) ch.nack(m, false, true);
        else {
          ch.ack(m);
          resolve();
        }
      });
    });
    const waited = times[1]! - times[0]!;
    assert.ok(waited >= 800, `offered again after ${waited} ms, not before its 800 ms delay`);
    await ch.close();
  });

  it("takes back what a closed channel held as redelivered, without counting a return", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-closed", { durable: true, arguments: QQ });
    await publishConfirmed(ch, "qq-closed", ["held"]);
    const c1 = await conn.createChannel();
    await new Promise<void>((resolve) => {
      c1.consume("qq-closed", (m) => m && resolve());
    });
    await c1.close();
    const again = await new Promise<amqp.ConsumeMessage>((resolve) => {
      ch.consume("qq-closed", (m) => m && resolve(m));
    });
    assert.equal(again.content.toString(), "held");
    assert.equal(again.fields.redelivered, true);
    assert.equal(
      again.properties.headers?.["x-delivery-count"],
      undefined,
      "a closed channel is not a return",
    );
    ch.ack(again);
    await ch.close();
  });

  it("keeps every confirmed message through kill -9", async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-crash", { durable: true, arguments: QQ });
    const bodies = Array.from({ length: 300 }, (_, i) => `c${i}`);
    await publishConfirmed(ch, "qq-crash", bodies);
    await conn.close().catch(() => {});
    const dataDir = broker.dataDir;
    await broker.kill();
    broker = await startBroker({ dataDir });
    conn = await amqp.connect(broker.url);
    const c2 = await conn.createChannel();
    const got: string[] = [];
    await eventually(
      "every confirmed message back after kill -9",
      async () => {
        for (;;) {
          const m = await c2.get("qq-crash", { noAck: true });
          if (!m) break;
          got.push(m.content.toString());
        }
        return got.length >= bodies.length;
      },
      20_000,
    );
    assert.deepEqual(got, bodies);
  });
});
