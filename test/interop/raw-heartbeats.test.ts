import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sleep } from "../support/amqplib-helpers.js";
import { assertBrokerStillServes } from "../support/broker-health.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { warrenOnly } from "../support/warren-only.js";

// Heartbeats with a client that does exactly what the test says and nothing else.
// RabbitMQ (rabbit_heartbeat): the server sends a heartbeat every heartbeat/2 s when
// it has nothing else to send, and drops a client that has sent nothing for two
// checks of `heartbeat` s, i.e. 2-3 heartbeat intervals after its last bytes,
// without a connection.close.

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

describe("heartbeats from a raw client", () => {
  test("a client silent for two heartbeat intervals is disconnected without connection.close", async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port, { heartbeatSec: 1 });
    const silentSinceMs = Date.now();
    try {
      await client.waitClosed(6000);
      const silentForMs = Date.now() - silentSinceMs;
      assert.ok(silentForMs >= 1500, `disconnected too early, after ${silentForMs} ms`);
      assert.ok(silentForMs <= 4000, `disconnected too late, after ${silentForMs} ms`);
      assert.ok(client.heartbeatsReceived >= 1, "the server sent heartbeats while we were silent");
      await assert.rejects(client.next(0, 0), /closed the socket/, "no connection.close was sent");
    } finally {
      client.destroy();
    }
    await assertBrokerStillServes(broker.url);
  });

  test("a missed-heartbeat disconnect is logged as RabbitMQ logs it", {
    skip: warrenOnly("reads Warren's log"),
  }, async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port, { heartbeatSec: 1 });
    try {
      await client.waitClosed(6000);
    } finally {
      client.destroy();
    }
    const line = await broker.waitForLog(
      (l) =>
        typeof l.msg === "string" && l.msg.includes("missed heartbeats from client, timeout: 1s"),
      1000,
    );
    assert.match(
      line.msg as string,
      /^closing AMQP connection .*127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+.*: missed heartbeats from client, timeout: 1s$/,
    );
  });

  test("a client that sends heartbeats stays connected while idle", async () => {
    const { client } = await RawAmqpClient.open(broker.host, broker.port, { heartbeatSec: 1 });
    try {
      const beat = setInterval(() => client.sendHeartbeat(), 400);
      await sleep(3500);
      clearInterval(beat);
      assert.equal(client.isClosed, false, "still connected after 3.5 heartbeat intervals");
      assert.ok(client.heartbeatsReceived >= 3, `server heartbeats: ${client.heartbeatsReceived}`);
      await client.openChannel(1); // and still answering
    } finally {
      client.destroy();
    }
  });

  test("a client answering tune with heartbeat 0 gets no heartbeats and is never timed out", {
    skip: warrenOnly("starts its own Warren proposing a 1 s heartbeat"),
  }, async () => {
    const fast = await startBroker({ args: ["--heartbeat", "1"] });
    try {
      const { client, tune } = await RawAmqpClient.open(fast.host, fast.port, {
        heartbeatSec: 0,
      });
      try {
        assert.equal(tune.heartbeat, 1, "the server proposed 1 s");
        await sleep(3500);
        assert.equal(client.isClosed, false, "still connected after 3.5 proposed intervals");
        assert.equal(client.heartbeatsReceived, 0);
        await client.openChannel(1);
      } finally {
        client.destroy();
      }
    } finally {
      await fast.stop();
    }
  });

  test("the server proposes a 60 s heartbeat in connection.tune", async () => {
    const { client, tune } = await RawAmqpClient.open(broker.host, broker.port);
    client.destroy();
    assert.equal(tune.heartbeat, 60);
    assert.equal(tune.frameMax, 131072);
    assert.equal(tune.channelMax, 2047);
  });
});
