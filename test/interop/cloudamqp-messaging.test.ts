import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AMQPClient } from "@cloudamqp/amqp-client";
import { uniqueName } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import {
  connectCloudAmqp,
  fill,
  readyCount,
  recordingConsumer,
  rejectsWithReply,
  settle,
} from "../support/cloudamqp-helpers.js";

// Publishing, consuming, confirms, transactions and prefetch with @cloudamqp/amqp-client.

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

describe("publish and consume with @cloudamqp/amqp-client", () => {
  test("consumed messages arrive in order and are gone once acked", async () => {
    const ch = await client.channel();
    const q = (await ch.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await fill(ch, q, 20);
    const { messages, tag } = await recordingConsumer(ch, q);
    await settle(() => messages.length, 20, "20 deliveries");
    assert.deepEqual(
      messages.map((m) => m.bodyToString()),
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    for (const m of messages) await m.ack();
    await ch.basicCancel(tag);
    await ch.close();
    const check = await client.channel();
    assert.equal(await readyCount(check, q), 0, "acked messages do not come back");
    await check.close();
  });

  test("unacked deliveries go back to the queue when their channel closes", async () => {
    const owner = await client.channel();
    const q = (await owner.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    const ch = await client.channel();
    await fill(ch, q, 3);
    const { messages } = await recordingConsumer(ch, q);
    await settle(() => messages.length, 3, "3 deliveries");
    await messages[0]!.ack();
    await ch.close();
    const again = await owner.basicGet(q, { noAck: true });
    assert.ok(again);
    assert.equal(again.bodyToString(), "1");
    assert.equal(again.redelivered, true);
    assert.equal(await readyCount(owner, q), 1);
    await owner.close();
  });

  test("basic.get returns each message with the count left, then null", async () => {
    const ch = await client.channel();
    const q = (await ch.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await fill(ch, q, 2);
    await readyCount(ch, q); // a round trip: both publishes are in
    const first = await ch.basicGet(q, { noAck: false });
    assert.ok(first);
    assert.equal(first.bodyToString(), "0");
    assert.equal(first.messageCount, 1);
    await first.ack();
    const second = await ch.basicGet(q, { noAck: true });
    assert.equal(second?.messageCount, 0);
    assert.equal(await ch.basicGet(q), null);
    await ch.close();
  });

  test("a channel error closes that channel only; the connection keeps working", async () => {
    const bad = await client.channel();
    await rejectsWithReply(
      bad.queueDeclare(uniqueName("missing"), { passive: true }),
      404,
      /NOT_FOUND - no queue 'missing-[^']+' in vhost '\/'/,
    );
    assert.equal(bad.closed, true);
    assert.equal(client.closed, false);
    const good = await client.channel();
    const q = (await good.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await good.basicPublish("", q, "after the error");
    assert.equal((await good.basicGet(q, { noAck: true }))?.bodyToString(), "after the error");
    await good.close();
  });
});

describe("connection.update-secret with @cloudamqp/amqp-client", () => {
  test("updating the secret to the current password is accepted and the connection carries on", async () => {
    await client.updateSecret("guest", "rotation");
    assert.equal(client.closed, false);
    const ch = await client.channel();
    await ch.queueDeclare("", { exclusive: true });
    await ch.close();
  });
});

describe("publisher confirms with @cloudamqp/amqp-client", () => {
  test("each publish on a confirm channel resolves with its sequence number", async () => {
    const ch = await client.channel();
    const q = (await ch.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await ch.confirmSelect();
    const confirms = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ch.basicPublish("", q, String(i))),
    );
    assert.deepEqual(
      confirms,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(await readyCount(ch, q), 100);
    await ch.close();
  });

  test("an unroutable publish is still confirmed", async () => {
    const ch = await client.channel();
    await ch.confirmSelect();
    assert.equal(await ch.basicPublish("amq.direct", uniqueName("nowhere"), "x"), 1);
    await ch.close();
  });
});

describe("transactions with @cloudamqp/amqp-client", () => {
  /** A queue holding "0" and "1", and a tx channel holding "0" unacked. */
  async function txSetup() {
    const owner = await client.channel();
    const q = (await owner.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await fill(owner, q, 2);
    await readyCount(owner, q);
    const tx = await client.channel();
    await tx.txSelect();
    const m0 = await tx.basicGet(q, { noAck: false });
    assert.equal(m0?.bodyToString(), "0");
    return { owner, q, tx, m0: m0! };
  }

  test("publishes and acks inside a transaction take effect only at commit", async () => {
    const { owner, q, tx, m0 } = await txSetup();
    await m0.ack();
    await tx.basicPublish("", q, "2");
    assert.equal(await readyCount(owner, q), 1, "the publish is held until commit");
    await tx.txCommit();
    assert.equal(await readyCount(owner, q), 2, "commit delivered the publish");
    await tx.close();
    assert.equal(
      await readyCount(owner, q),
      2,
      "commit acked message 0: closing did not requeue it",
    );
    const rest = [
      await owner.basicGet(q, { noAck: true }),
      await owner.basicGet(q, { noAck: true }),
    ];
    assert.deepEqual(
      rest.map((m) => m?.bodyToString()),
      ["1", "2"],
    );
    await owner.close();
  });

  test("rollback drops held publishes and leaves acked messages unacked", async () => {
    const { owner, q, tx, m0 } = await txSetup();
    await m0.ack();
    await tx.basicPublish("", q, "2");
    await tx.txRollback();
    assert.equal(await readyCount(owner, q), 1, "the publish was dropped");
    await tx.close();
    assert.equal(await readyCount(owner, q), 2, "message 0 was still unacked and came back");
    const back = await owner.basicGet(q, { noAck: true });
    assert.equal(back?.bodyToString(), "0");
    assert.equal(back?.redelivered, true);
    await owner.close();
  });

  test("after a rollback the same delivery can be acked again and committed", async () => {
    const { owner, q, tx, m0 } = await txSetup();
    await m0.ack();
    await tx.txRollback();
    await tx.basicAck(m0.deliveryTag);
    await tx.txCommit();
    await tx.close();
    assert.equal(await readyCount(owner, q), 1, "only message 1 is left");
    await owner.close();
  });

  test("commit without tx.select is 406 channel is not transactional", async () => {
    const ch = await client.channel();
    await rejectsWithReply(
      ch.txCommit(),
      406,
      /^channel \d+ closed: PRECONDITION_FAILED - channel is not transactional/,
    );
  });
});

describe("prefetch with @cloudamqp/amqp-client", () => {
  async function queueWith(n: number) {
    const ch = await client.channel();
    const q = (await ch.queueDeclare("", { exclusive: true, autoDelete: false })).name;
    await fill(ch, q, n);
    await readyCount(ch, q);
    return { ch, q };
  }

  test("per-consumer prefetch (global=false) limits each consumer separately", async () => {
    const { ch, q } = await queueWith(10);
    await ch.basicQos(2, 0, false);
    const a = await recordingConsumer(ch, q);
    const b = await recordingConsumer(ch, q);
    await settle(() => a.messages.length + b.messages.length, 4, "two windows of 2");
    assert.deepEqual([a.messages.length, b.messages.length], [2, 2]);
    await ch.close();
  });

  test("global prefetch (global=true) is one limit shared by the channel's consumers", async () => {
    const { ch, q } = await queueWith(10);
    await ch.basicQos(3, 0, true);
    const a = await recordingConsumer(ch, q);
    const b = await recordingConsumer(ch, q);
    const total = await settle(() => a.messages.length + b.messages.length, 3, "3 in total");
    assert.equal(total, 3);
    await ch.close();
  });

  test("global and per-consumer prefetch both apply", async () => {
    const { ch, q } = await queueWith(10);
    await ch.basicQos(3, 0, true);
    await ch.basicQos(1, 0, false);
    const a = await recordingConsumer(ch, q);
    const b = await recordingConsumer(ch, q);
    await settle(() => a.messages.length + b.messages.length, 2, "one each");
    assert.deepEqual([a.messages.length, b.messages.length], [1, 1]);
    await ch.close();
  });

  test("a new per-consumer prefetch applies to later consumers, not existing ones", async () => {
    const { ch, q } = await queueWith(10);
    await ch.basicQos(1, 0, false);
    const a = await recordingConsumer(ch, q);
    await settle(() => a.messages.length, 1, "the first window");
    await ch.basicQos(3, 0, false);
    await settle(() => a.messages.length, 1, "no more for the existing consumer");
    assert.equal(a.messages.length, 1);
    const b = await recordingConsumer(ch, q);
    await settle(() => b.messages.length, 3, "the new consumer's window");
    assert.equal(b.messages.length, 3);
    await ch.close();
  });

  test("acking frees prefetch credit for the next delivery", async () => {
    const { ch, q } = await queueWith(5);
    await ch.basicQos(2);
    const a = await recordingConsumer(ch, q);
    await settle(() => a.messages.length, 2, "the first window");
    await a.messages[0]!.ack();
    await settle(() => a.messages.length, 3, "one more after the ack");
    assert.equal(a.messages.length, 3);
    await ch.close();
  });
});
