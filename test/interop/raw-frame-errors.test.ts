import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FrameType } from "../../src/protocol/generated/constants.js";
import { assertBrokerStillServes } from "../support/broker-health.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";

// Malformed input from one client closes that client's connection with RabbitMQ's
// reply code and text (rabbitmq-reference.md §1), and every other client keeps working.

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

interface ExpectedClose {
  readonly replyCode: number;
  readonly replyText: string;
  readonly classId: number;
  readonly methodId: number;
}

/** The next thing the server sends is connection.close with exactly these fields. */
async function expectConnectionClose(client: RawAmqpClient, expected: ExpectedClose) {
  const close = await client.expect("connection.close", 0);
  assert.deepEqual(
    {
      replyCode: close.replyCode,
      replyText: close.replyText,
      classId: close.classId,
      methodId: close.methodId,
    },
    expected,
  );
}

/** Opens a raw connection (and channel 1 if asked), runs `abuse`, checks the close and the broker. */
async function abuseAndExpect(
  options: { openChannel: boolean; frameMax?: number },
  abuse: (client: RawAmqpClient) => void,
  expected: ExpectedClose,
): Promise<void> {
  const { client } = await RawAmqpClient.open(broker.host, broker.port, {
    frameMax: options.frameMax,
  });
  try {
    if (options.openChannel) await client.openChannel(1);
    abuse(client);
    await expectConnectionClose(client, expected);
    client.sendCloseOk();
  } finally {
    client.destroy();
  }
  await assertBrokerStillServes(broker.url);
}

const channelOpenPayload = Buffer.from([0, 20, 0, 10, 0]); // channel.open, reserved shortstr ""
const queueDeclare = {
  name: "queue.declare",
  queue: "",
  passive: false,
  durable: false,
  exclusive: true,
  autoDelete: false,
  noWait: false,
  arguments: new Map(),
} as const;

describe("the protocol header", () => {
  for (const [what, header] of [
    ["AMQP 0-9-0", Buffer.from("AMQP\x00\x00\x09\x00", "latin1")],
    ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ] as const) {
    test(`${what} instead of the AMQP 0-9-1 header gets "AMQP 0 0 9 1" back and the socket closes`, async () => {
      const client = await RawAmqpClient.connect(broker.host, broker.port);
      try {
        client.write(header);
        await client.waitClosed(5000);
        assert.deepEqual(client.receivedBytes, Buffer.from("AMQP\x00\x00\x09\x01", "latin1"));
      } finally {
        client.destroy();
      }
      await assertBrokerStillServes(broker.url);
    });
  }
});

describe("malformed frames close the connection with RabbitMQ's reply", () => {
  test("a bad frame-end octet gets 501 FRAME_ERROR and the socket is dropped without close-ok", async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port);
    try {
      client.sendFrame(FrameType.Method, 1, channelOpenPayload, 0x00);
      await expectConnectionClose(client, {
        replyCode: 501,
        replyText:
          "FRAME_ERROR - type 1, all octets = <<0,20,0,10,0>>: {invalid_frame_end_marker,0}",
        classId: 0,
        methodId: 0,
      });
      // No close-ok from us: the server must not wait for one forever (RabbitMQ: 3 s).
      await client.waitClosed(6000);
    } finally {
      client.destroy();
    }
    await assertBrokerStillServes(broker.url);
  });

  test("a frame larger than the negotiated frame_max gets 501 FRAME_ERROR frame_too_large", async () => {
    await abuseAndExpect(
      { openChannel: true, frameMax: 4096 },
      (c) => c.sendFrame(FrameType.Body, 1, Buffer.alloc(4097)),
      {
        replyCode: 501,
        replyText: "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}",
        classId: 0,
        methodId: 0,
      },
    );
  });

  test("an unknown frame type gets 501 FRAME_ERROR unknown_frame", async () => {
    await abuseAndExpect({ openChannel: true }, (c) => c.sendFrame(9, 1, Buffer.alloc(0)), {
      replyCode: 501,
      replyText: "FRAME_ERROR - type 9, all octets = <<>>: unknown_frame",
      classId: 0,
      methodId: 0,
    });
  });

  test("a heartbeat frame on a non-zero channel gets 505 UNEXPECTED_FRAME", async () => {
    await abuseAndExpect({ openChannel: true }, (c) => c.sendHeartbeat(1), {
      replyCode: 505,
      replyText: "UNEXPECTED_FRAME - type 8, all octets = <<>>",
      classId: 0,
      methodId: 0,
    });
  });

  test("a content header with no basic.publish before it gets 505 UNEXPECTED_FRAME", async () => {
    const header = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await abuseAndExpect({ openChannel: true }, (c) => c.sendFrame(FrameType.Header, 1, header), {
      replyCode: 505,
      replyText: "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
      classId: 0,
      methodId: 0,
    });
  });

  test("a content header on channel 0 gets 505 UNEXPECTED_FRAME", async () => {
    const header = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await abuseAndExpect({ openChannel: false }, (c) => c.sendFrame(FrameType.Header, 0, header), {
      replyCode: 505,
      replyText: "UNEXPECTED_FRAME - type 2, all octets = <<0,60,0,0,0,0,0,0,0,0,0,0,0,0>>",
      classId: 0,
      methodId: 0,
    });
  });
});

describe("undecodable method arguments close the connection with 501", () => {
  test("truncated queue.declare arguments get 501 FRAME_ERROR cannot decode", async () => {
    const truncated = Buffer.from([0, 50, 0, 10, 0]);
    await abuseAndExpect(
      { openChannel: true },
      (c) => c.sendFrame(FrameType.Method, 1, truncated),
      {
        replyCode: 501,
        replyText: "FRAME_ERROR - cannot decode <<0>>",
        classId: 50,
        methodId: 10,
      },
    );
  });

  test("queue.declare arguments followed by a stray byte get 501 FRAME_ERROR cannot decode", async () => {
    // reserved short, queue "", flag bits, empty table: 8 bytes, then one byte too many.
    const padded = Buffer.from([0, 50, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await abuseAndExpect({ openChannel: true }, (c) => c.sendFrame(FrameType.Method, 1, padded), {
      replyCode: 501,
      replyText: "FRAME_ERROR - cannot decode <<0,0,0,0,0,0,0,0,0>>",
      classId: 50,
      methodId: 10,
    });
  });
});

describe("methods in the wrong place close the connection with RabbitMQ's reply", () => {
  test("a method on a channel that was never opened gets 504 expected 'channel.open'", async () => {
    await abuseAndExpect({ openChannel: false }, (c) => c.sendMethod(1, queueDeclare), {
      replyCode: 504,
      replyText: "CHANNEL_ERROR - expected 'channel.open'",
      classId: 50,
      methodId: 10,
    });
  });

  test("a second channel.open on an open channel gets 504 second 'channel.open' seen", async () => {
    await abuseAndExpect({ openChannel: true }, (c) => c.sendMethod(1, { name: "channel.open" }), {
      replyCode: 504,
      replyText: "CHANNEL_ERROR - second 'channel.open' seen",
      classId: 20,
      methodId: 10,
    });
  });

  test("a queue method on channel 0 gets 504 unexpected method in connection state running", async () => {
    await abuseAndExpect({ openChannel: false }, (c) => c.sendMethod(0, queueDeclare), {
      replyCode: 504,
      replyText: "CHANNEL_ERROR - unexpected method in connection state running",
      classId: 50,
      methodId: 10,
    });
  });

  test("a connection method on a non-zero channel gets 503 COMMAND_INVALID", async () => {
    await abuseAndExpect(
      { openChannel: true },
      (c) => c.sendMethod(1, { name: "connection.open", virtualHost: "/" }),
      {
        replyCode: 503,
        replyText: "COMMAND_INVALID - unimplemented method",
        classId: 10,
        methodId: 40,
      },
    );
  });
});

describe("frame sizes", () => {
  test("a frame whose payload is exactly frame_max is accepted, as RabbitMQ accepts it", async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port, { frameMax: 4096 });
    try {
      await client.openChannel(1);
      client.sendMethod(1, queueDeclare);
      const ok = await client.expect("queue.declare-ok", 1);
      // One body frame of 4096 payload bytes: 8 bytes over frame_max counting the frame overhead.
      client.publish(1, "", ok.queue, Buffer.alloc(4096, 7));
      client.sendMethod(1, { name: "basic.get", queue: ok.queue, noAck: true });
      const got = await client.expect("basic.get-ok", 1);
      assert.equal(got.messageCount, 0);
    } finally {
      client.destroy();
    }
  });
});
