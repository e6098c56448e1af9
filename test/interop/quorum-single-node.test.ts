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
