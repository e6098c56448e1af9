import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";

// Channel errors (soft: channel.close) with RabbitMQ's exact reply text and the
// class/method of the offending method (rabbitmq-reference.md §3). After each, the
// client acknowledges with channel.close-ok and reopens the same channel number,
// which proves the connection survived.

let broker: BrokerUnderTest;
const clients: RawAmqpClient[] = [];

before(async () => {
  broker = await startBroker();
});

after(async () => {
  for (const c of clients) c.destroy();
  await broker?.stop();
});

/** A raw connection with channel 1 open. */
async function channelOne(): Promise<RawAmqpClient> {
  const { client } = await RawAmqpClient.open(broker.host, broker.port);
  clients.push(client);
  await client.openChannel(1);
  return client;
}

/** Expects channel.close on channel 1, acknowledges it, and reopens channel 1. */
async function expectSoftError(
  c: RawAmqpClient,
  replyCode: number,
  replyText: string,
  classId: number,
  methodId: number,
): Promise<void> {
  assert.deepEqual(await c.expectChannelClose(1), { replyCode, replyText, classId, methodId });
  c.sendMethod(1, { name: "channel.close-ok" });
  await c.openChannel(1);
  await c.sync(1);
  c.destroy();
}

const ack = (deliveryTag: number, multiple = false) =>
  ({ name: "basic.ack", deliveryTag, multiple }) as const;

/** A queue holding one message "m", taken with basic.get (delivery tag 1, unacked). */
async function oneUnacked(c: RawAmqpClient): Promise<string> {
  const q = await c.declareQueue(1);
  c.publish(1, "", q, Buffer.from("m"));
  c.sendMethod(1, { name: "basic.get", queue: q, noAck: false });
  assert.equal((await c.expect("basic.get-ok", 1)).deliveryTag, 1);
  return q;
}

describe("acknowledgements", () => {
  test("acking a tag never delivered is 406 unknown delivery tag", async () => {
    const c = await channelOne();
    c.sendMethod(1, ack(1));
    await expectSoftError(c, 406, "PRECONDITION_FAILED - unknown delivery tag 1", 60, 80);
  });

  test("acking the same tag twice is 406 unknown delivery tag", async () => {
    const c = await channelOne();
    await oneUnacked(c);
    c.sendMethod(1, ack(1));
    c.sendMethod(1, ack(1));
    await expectSoftError(c, 406, "PRECONDITION_FAILED - unknown delivery tag 1", 60, 80);
  });

  test("acking tag 0 without multiple is 406 unknown delivery tag 0", async () => {
    const c = await channelOne();
    c.sendMethod(1, ack(0));
    await expectSoftError(c, 406, "PRECONDITION_FAILED - unknown delivery tag 0", 60, 80);
  });

  test("nack of tag 0 with multiple settles everything, even when nothing is outstanding", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "basic.nack", deliveryTag: 0, multiple: true, requeue: true });
    await c.sync(1);
    const q = await oneUnacked(c);
    c.sendMethod(1, { name: "basic.ack", deliveryTag: 0, multiple: true });
    await c.sync(1);
    c.sendMethod(1, { name: "basic.recover", requeue: true });
    await c.expect("basic.recover-ok", 1);
    c.sendMethod(1, { name: "basic.get", queue: q, noAck: true });
    await c.expect("basic.get-empty", 1); // the ack of tag 0 multiple acked message 1
    c.destroy();
  });

  test("a multiple ack above the highest outstanding tag is 406 and acks nothing", async () => {
    const c = await channelOne();
    const q = await oneUnacked(c);
    c.sendMethod(1, ack(100, true));
    assert.deepEqual(await c.expectChannelClose(1), {
      replyCode: 406,
      replyText: "PRECONDITION_FAILED - unknown delivery tag 100",
      classId: 60,
      methodId: 80,
    });
    c.sendMethod(1, { name: "channel.close-ok" });
    await c.openChannel(1);
    c.sendMethod(1, { name: "basic.get", queue: q, noAck: true });
    const back = await c.expect("basic.get-ok", 1);
    assert.equal(back.redelivered, true, "message 1 was still unacked and came back");
    c.destroy();
  });
});

describe("channel modes", () => {
  test("tx.select on a confirm channel is 406 cannot switch from confirm to tx mode", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "confirm.select", nowait: false });
    await c.expect("confirm.select-ok", 1);
    c.sendMethod(1, { name: "tx.select" });
    await expectSoftError(
      c,
      406,
      "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
      90,
      10,
    );
  });

  test("confirm.select on a tx channel is 406 cannot switch from tx to confirm mode", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "tx.select" });
    await c.expect("tx.select-ok", 1);
    c.sendMethod(1, { name: "confirm.select", nowait: false });
    await expectSoftError(
      c,
      406,
      "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
      85,
      10,
    );
  });

  test("tx.rollback without tx.select is 406 channel is not transactional", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "tx.rollback" });
    await expectSoftError(c, 406, "PRECONDITION_FAILED - channel is not transactional", 90, 30);
  });
});

describe("publishing", () => {
  test("publishing to amq.default by name is 404: only the nameless default exchange exists", async () => {
    const c = await channelOne();
    c.publish(1, "amq.default", "k", Buffer.from("x"));
    await expectSoftError(c, 404, "NOT_FOUND - no exchange 'amq.default' in vhost '/'", 60, 40);
  });

  test("a user_id property other than the logged-in user is 406", async () => {
    const c = await channelOne();
    c.publish(1, "", "anything", Buffer.from("x"), { properties: { userId: "bob" } });
    await expectSoftError(
      c,
      406,
      "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
      60,
      40,
    );
  });

  test("a user_id property equal to the logged-in user is accepted", async () => {
    const c = await channelOne();
    const q = await c.declareQueue(1);
    c.publish(1, "", q, Buffer.from("x"), { properties: { userId: "guest" } });
    c.sendMethod(1, { name: "basic.get", queue: q, noAck: true });
    await c.expect("basic.get-ok", 1);
    c.destroy();
  });

  test("an expiration that is not an integer is 406 invalid expiration", async () => {
    const c = await channelOne();
    c.publish(1, "", "anything", Buffer.from("x"), { properties: { expiration: "abc" } });
    await expectSoftError(
      c,
      406,
      "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
      60,
      40,
    );
  });

  test("publishing to an internal exchange is 403", async () => {
    const c = await channelOne();
    const x = `internal-${process.pid}-${Date.now()}`;
    c.sendMethod(1, {
      name: "exchange.declare",
      exchange: x,
      type: "fanout",
      passive: false,
      durable: false,
      autoDelete: false,
      internal: true,
      noWait: false,
      arguments: new Map(),
    });
    await c.expect("exchange.declare-ok", 1);
    c.publish(1, x, "", Buffer.from("x"));
    assert.deepEqual(await c.expectChannelClose(1), {
      replyCode: 403,
      replyText: `ACCESS_REFUSED - cannot publish to internal exchange '${x}' in vhost '/'`,
      classId: 60,
      methodId: 40,
    });
    c.sendMethod(1, { name: "channel.close-ok" });
    await c.openChannel(1);
    c.sendMethod(1, { name: "exchange.delete", exchange: x, ifUnused: false, noWait: false });
    await c.expect("exchange.delete-ok", 1);
    c.destroy();
  });
});

describe("queue name shortcuts and consumer tags", () => {
  test("an empty queue name means the channel's last declared queue", async () => {
    const c = await channelOne();
    const q = await c.declareQueue(1, "");
    c.publish(1, "", q, Buffer.from("x"));
    c.sendMethod(1, { name: "basic.get", queue: "", noAck: true });
    assert.equal((await c.expect("basic.get-ok", 1)).routingKey, q);
    c.destroy();
  });

  test("an empty queue name before any declare is 404 no previously declared queue", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "basic.get", queue: "", noAck: true });
    await expectSoftError(c, 404, "NOT_FOUND - no previously declared queue", 60, 70);
  });

  test("cancelling an unknown consumer tag is answered with cancel-ok", async () => {
    const c = await channelOne();
    c.sendMethod(1, { name: "basic.cancel", consumerTag: "never-used", noWait: false });
    assert.equal((await c.expect("basic.cancel-ok", 1)).consumerTag, "never-used");
    c.destroy();
  });

  test("after the server's channel.close, methods are ignored until close-ok", async () => {
    const c = await channelOne();
    c.sendMethod(1, ack(5));
    await c.expectChannelClose(1);
    c.sendMethod(1, { name: "basic.qos", prefetchSize: 0, prefetchCount: 1, global: false });
    c.sendMethod(1, { name: "channel.close-ok" });
    await c.openChannel(1); // the next method on channel 1 is open-ok, not qos-ok
    c.destroy();
  });
});
