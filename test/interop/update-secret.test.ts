import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import amqpCallback from "amqplib/callback_api";
import { connect, withTimeout } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";

// connection.update-secret (RabbitMQ's extension for expiring credentials). With
// users of the internal store RabbitMQ accepts any new secret and answers
// update-secret-ok; amqplib's and pika's own test suites rely on it. These tests run
// against RabbitMQ too (npm run test:interop:rabbitmq).

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

describe("connection.update-secret with amqplib", () => {
  test("updateSecret resolves (as in amqplib's own suite) and the connection goes on", async () => {
    const conn = await connect(broker.url);
    try {
      await withTimeout(
        conn.updateSecret(Buffer.from("new secret"), "no reason"),
        5000,
        "update-secret-ok",
      );
      // Twice, with another secret: nothing about the connection changed.
      await withTimeout(conn.updateSecret(Buffer.from("another"), "again"), 5000, "second");
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue("", { exclusive: true });
      ch.sendToQueue(queue, Buffer.from("after update-secret"));
      const got = await withTimeout(
        (async () => {
          for (;;) {
            const m = await ch.get(queue, { noAck: true });
            if (m) return m.content.toString();
          }
        })(),
        5000,
        "get",
      );
      assert.equal(got, "after update-secret");
    } finally {
      await conn.close();
    }
  });

  test("updateSecret with the callback API calls back without an error", async () => {
    const conn = await new Promise<amqpCallback.Connection>((resolve, reject) =>
      amqpCallback.connect(broker.url, (err, c) => (err ? reject(err) : resolve(c))),
    );
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) =>
          conn.updateSecret(Buffer.from("new secret"), "no reason", (err: unknown) =>
            err ? reject(err) : resolve(),
          ),
        ),
        5000,
        "update-secret-ok (callback API)",
      );
    } finally {
      await new Promise<void>((resolve) => conn.close(() => resolve()));
    }
  });
});

describe("connection.update-secret with pika", () => {
  test("update_secret gets update-secret-ok (pika's TestUpdateSecret) and the connection goes on", async () => {
    assert.deepEqual(await runPythonScenario("pika_scenarios.py", "update_secret", broker.url), {
      okFrames: ["Connection.UpdateSecretOk", "Connection.UpdateSecretOk"],
      body: "after update-secret",
    });
  });
});

describe("connection.update-secret in raw frames", () => {
  test("a secret that is no password at all is accepted too", async () => {
    const raw = await RawAmqpClient.connect(broker.host, broker.port);
    try {
      await raw.handshake();
      raw.sendMethod(0, {
        name: "connection.update-secret",
        newSecret: Buffer.from([0, 0xff, 0xfe, 0x80]),
        reason: "",
      });
      assert.equal((await raw.next(0)).method.name, "connection.update-secret-ok");
      await raw.openChannel(1);
    } finally {
      raw.destroy();
    }
  });

  test("before connection.open it closes the connection with 504 and the connection state", async () => {
    const raw = await RawAmqpClient.connect(broker.host, broker.port);
    try {
      await raw.login();
      raw.sendMethod(0, {
        name: "connection.update-secret",
        newSecret: Buffer.from("x"),
        reason: "",
      });
      // RabbitMQ 3.10 closes the socket without a frame when the handshake fails; later
      // versions, and Warren, send this connection.close first.
      const first = await Promise.race([
        raw.next(0, 6000).then((m) => m.method),
        raw.closed.then(() => undefined),
      ]);
      if (first !== undefined) {
        assert.equal(first.name, "connection.close");
        const close = first as Extract<typeof first, { name: "connection.close" }>;
        assert.deepEqual(
          [close.replyCode, close.replyText, close.classId, close.methodId],
          [504, "CHANNEL_ERROR - unexpected method in connection state tuning", 10, 70],
        );
        raw.sendCloseOk();
      }
      await raw.waitClosed(6000);
    } finally {
      raw.destroy();
    }
  });
});
