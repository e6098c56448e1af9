import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { assertBrokerStillServes } from "../support/broker-health.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { type CloseFields, RawAmqpClient } from "../support/raw-amqp-client.js";

// The connection handshake, step by step (rabbitmq-reference.md §2).

let broker: BrokerUnderTest;
const clients: RawAmqpClient[] = [];

before(async () => {
  broker = await startBroker();
});

after(async () => {
  for (const c of clients) c.destroy();
  await broker?.stop();
});

async function connect(): Promise<RawAmqpClient> {
  const c = await RawAmqpClient.connect(broker.host, broker.port);
  clients.push(c);
  return c;
}

/**
 * The server refuses the connection. RabbitMQ 3.10 closes the socket without a word
 * when the refusal happens before connection.open; later versions send this
 * connection.close first. Either way the socket must close, and a close that is
 * sent must be exactly this one.
 */
async function expectRefused(
  c: RawAmqpClient,
  expected: Pick<CloseFields, "replyCode" | "replyText">,
  attributedTo?: Pick<CloseFields, "classId" | "methodId">,
): Promise<void> {
  const first = await Promise.race([
    c.next(0, 6000).then((m) => m.method),
    c.closed.then(() => undefined),
  ]);
  if (first !== undefined) {
    assert.equal(first.name, "connection.close");
    const close = first as CloseFields;
    assert.deepEqual({ replyCode: close.replyCode, replyText: close.replyText }, expected);
    if (attributedTo) {
      assert.deepEqual({ classId: close.classId, methodId: close.methodId }, attributedTo);
    }
    c.sendCloseOk();
  }
  await c.waitClosed(6000);
  await assertBrokerStillServes(broker.url);
}

describe("connection.start and login", () => {
  test("connection.start offers 0-9, PLAIN and AMQPLAIN, en_US and RabbitMQ's capabilities in order", async () => {
    const c = await connect();
    await c.login();
    const start = c.start!;
    assert.deepEqual([start.versionMajor, start.versionMinor], [0, 9]);
    assert.equal(start.mechanisms.toString(), "PLAIN AMQPLAIN");
    assert.equal(start.locales.toString(), "en_US");
    const caps = start.serverProperties.get("capabilities");
    assert.equal(caps?.type, "F");
    assert.deepEqual(
      [...(caps.value as Map<string, { value: unknown }>)].map(([k, v]) => [k, v.value]),
      [
        ["publisher_confirms", true],
        ["exchange_exchange_bindings", true],
        ["basic.nack", true],
        ["consumer_cancel_notify", true],
        ["connection.blocked", true],
        ["consumer_priorities", true],
        ["authentication_failure_close", true],
        ["per_consumer_qos", true],
        ["direct_reply_to", true],
      ],
    );
    assert.deepEqual([...start.serverProperties.keys()].sort(), [
      "capabilities",
      "cluster_name",
      "copyright",
      "information",
      "platform",
      "product",
      "version",
    ]);
    c.destroy();
  });

  test("AMQPLAIN logs in as well as PLAIN", async () => {
    const c = await connect();
    await c.handshake({ mechanism: "AMQPLAIN" });
    await c.openChannel(1);
    c.destroy();
  });

  test("a wrong password from a client without authentication_failure_close just closes the socket", async () => {
    const c = await connect();
    const loggingIn = c.login({ password: "wrong", capabilities: [] });
    await assert.rejects(loggingIn, /closed the socket/);
    assert.equal(c.isClosed, true);
    await assertBrokerStillServes(broker.url);
  });

  test("a wrong password from a client with authentication_failure_close gets 403 first", async () => {
    const c = await connect();
    const loggingIn = c.login({ password: "wrong" });
    await assert.rejects(
      loggingIn,
      /expected connection.tune, got connection.close on channel 0: {"name":"connection.close","replyCode":403,"replyText":"ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.","classId":0,"methodId":0}/,
    );
    c.sendCloseOk();
    await c.waitClosed(6000);
  });
});

describe("tune-ok negotiation", () => {
  async function tuned(frameMax: number, channelMax: number): Promise<RawAmqpClient> {
    const c = await connect();
    await c.login();
    c.sendMethod(0, { name: "connection.tune-ok", channelMax, frameMax, heartbeat: 0 });
    c.sendMethod(0, { name: "connection.open", virtualHost: "/" });
    return c;
  }

  test("frame_max below 4096 is refused", async () => {
    await expectRefused(await tuned(4095, 2047), {
      replyCode: 530,
      replyText:
        "NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value (4096)",
    });
  });

  test("frame_max above the server's is refused", async () => {
    await expectRefused(await tuned(200000, 2047), {
      replyCode: 530,
      replyText:
        "NOT_ALLOWED - negotiated frame_max = 200000 is higher than the maximum allowed value (131072)",
    });
  });

  test("frame_max 0 (no limit) is refused because the server has one", async () => {
    await expectRefused(await tuned(0, 2047), {
      replyCode: 530,
      replyText:
        "NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)",
    });
  });

  test("channel_max 0 (no limit) is refused because the server has one", async () => {
    await expectRefused(await tuned(131072, 0), {
      replyCode: 530,
      replyText:
        "NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)",
    });
  });

  test("a refused tune-ok is attributed to connection.tune (10/30), as RabbitMQ does", async () => {
    await expectRefused(
      await tuned(4095, 2047),
      {
        replyCode: 530,
        replyText:
          "NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value (4096)",
      },
      { classId: 10, methodId: 30 },
    );
  });

  test("channel_max limits how many channels are open, not their numbers", async () => {
    const c = await connect();
    await c.handshake({ channelMax: 2 });
    await c.openChannel(5);
    await c.openChannel(3000);
    c.sendMethod(9, { name: "channel.open" });
    assert.deepEqual(await c.expectConnectionClose(), {
      replyCode: 530,
      replyText:
        "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)",
      classId: 0,
      methodId: 0,
    });
    c.destroy();
  });

  test("a closed channel no longer counts against channel_max", async () => {
    const c = await connect();
    await c.handshake({ channelMax: 1 });
    await c.openChannel(1);
    c.sendMethod(1, {
      name: "channel.close",
      replyCode: 200,
      replyText: "",
      classId: 0,
      methodId: 0,
    });
    await c.expect("channel.close-ok", 1);
    await c.openChannel(2);
    c.destroy();
  });
});

describe("connection.open", () => {
  test("an unknown vhost is 530 NOT_ALLOWED - vhost NAME not found", async () => {
    const c = await connect();
    await c.login();
    c.sendMethod(0, {
      name: "connection.tune-ok",
      channelMax: 2047,
      frameMax: 131072,
      heartbeat: 0,
    });
    c.sendMethod(0, { name: "connection.open", virtualHost: "nosuch" });
    assert.deepEqual(await c.expectConnectionClose(), {
      replyCode: 530,
      replyText: "NOT_ALLOWED - vhost nosuch not found",
      classId: 10,
      methodId: 40,
    });
    c.sendCloseOk();
    await c.waitClosed(5000);
  });
});
