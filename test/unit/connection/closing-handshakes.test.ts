import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { FrameWriter } from "../../../src/protocol/frame-writer.js";
import type { Method } from "../../../src/protocol/generated/methods.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import {
  InProcessClient,
  publishFrames,
  type Received,
  testBroker,
} from "../../support/in-process-client.js";

// The close handshakes as RabbitMQ runs them (issue 14 items 1, 2 and 5), through a real
// AmqpConnection without sockets: a channel.close that crosses the broker's own, who
// closes the socket after connection.close-ok, and channel.flow active=false.

function setup() {
  const clock = { now: 1_000_000 };
  const broker = testBroker(() => clock.now);
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  client.openChannel(2);
  return { clock, broker, client };
}

/** Several methods in one chunk, as a client that does not wait in between sends them. */
function frames(...parts: [number, Method][]): Buffer {
  const w = new FrameWriter(131072);
  for (const [channel, method] of parts) w.method(channel, method);
  return Buffer.concat(w.take());
}

const channelClose = {
  name: "channel.close",
  replyCode: 200,
  replyText: "Goodbye",
  classId: 0,
  methodId: 0,
} as const;

const connectionClose = {
  name: "connection.close",
  replyCode: 200,
  replyText: "kthxbai",
  classId: 0,
  methodId: 0,
} as const;

const names = (rs: Received[], channel?: number) =>
  rs.filter((r) => channel === undefined || r.channel === channel).map((r) => r.method.name);

/** basic.qos on `channel` answered with qos-ok: the channel and its connection work. */
function roundTrip(client: InProcessClient, channel: number): boolean {
  client.method(channel, { name: "basic.qos", prefetchSize: 0, prefetchCount: 0, global: false });
  return names(client.pump(), channel).includes("basic.qos-ok");
}

describe("a channel.close that crosses the broker's", () => {
  test("is answered with close-ok, and the client's close-ok for ours frees the channel; the connection carries on", () => {
    const { client } = setup();
    // A publish to a missing exchange and the client's own close, without waiting between.
    client.send(
      Buffer.concat([publishFrames(1, "no-such-exchange", "k", "x"), frames([1, channelClose])]),
    );
    const got = client.pump();
    const close = got.find((r) => r.method.name === "channel.close")?.method;
    assert.equal(close?.name === "channel.close" && close.replyCode, 404);
    assert.deepEqual(names(got, 1), ["channel.close", "channel.close-ok"]);
    // The client owes the close-ok for our close, and sends it, as the protocol requires.
    client.method(1, { name: "channel.close-ok" });
    const after = client.pump();
    assert.deepEqual(names(after), [], "no connection.close (504 expected 'channel.open')");
    assert.equal(client.conn.state, "open");
    assert.equal(roundTrip(client, 2), true, "channel 2 still works");
    client.openChannel(1);
    assert.equal(roundTrip(client, 1), true, "channel 1 can be opened again");
  });

  test("the channel stays closing until that close-ok: other frames on it are dropped and it cannot be reopened yet", () => {
    const { client } = setup();
    client.send(
      Buffer.concat([publishFrames(1, "no-such-exchange", "k", "x"), frames([1, channelClose])]),
    );
    client.pump();
    assert.equal(client.conn.channels.get(1)?.state, "closing");
    client.method(1, { name: "channel.open" });
    client.method(1, { name: "basic.qos", prefetchSize: 0, prefetchCount: 0, global: false });
    assert.deepEqual(names(client.pump()), [], "dropped while closing");
    client.method(1, { name: "channel.close-ok" });
    client.pump();
    assert.equal(client.conn.channels.has(1), false);
    assert.equal(client.conn.state, "open");
  });

  test("a client close after the broker's close-ok is acknowledged starts a new handshake: 504 as RabbitMQ", () => {
    const { client } = setup();
    client.publish(1, "no-such-exchange", "k", "x");
    client.pump();
    client.method(1, { name: "channel.close-ok" });
    client.method(1, channelClose);
    const close = client.pump().find((r) => r.method.name === "connection.close")?.method;
    assert.equal(
      close?.name === "connection.close" && close.replyText,
      "CHANNEL_ERROR - expected 'channel.open'",
    );
  });

  test("a close waiting behind a command in progress still gets its close-ok when the broker closes the channel meanwhile", async () => {
    const clock = { now: 1_000_000 };
    const saves: (() => void)[] = [];
    const broker = new Broker(
      DEFAULT_SETTINGS,
      silentLog,
      { ...systemSources, clock: () => clock.now },
      {
        store: new MemoryMessageStore(),
        saveDefinitions: () => {},
        schedule: (fn) => saves.push(fn),
      },
    );
    // Runs the scheduled definitions saves (each built on a later turn, in slices) and
    // the saves they schedule in turn, until none is left.
    const settleSaves = async () => {
      while (saves.length > 0) {
        for (const fn of saves.splice(0)) fn();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    broker.bootstrapDefaults();
    await settleSaves();
    const client = new InProcessClient(broker);
    client.handshake();
    client.openChannel(1);
    client.openChannel(2);
    client.declareQueue(1, "q");
    client.publish(1, "", "q", "m");
    client.method(1, { name: "basic.get", queue: "q", noAck: false });
    client.pump();
    // A durable declare waits for the definitions save; the client's close queues behind it.
    client.declareQueue(1, "durable-q", { durable: true });
    client.method(1, channelClose);
    // Meanwhile the delivery outlives the consumer timeout: the broker closes the channel (406).
    clock.now += DEFAULT_SETTINGS.consumerTimeoutMs + 1_000;
    client.conn.tick(clock.now);
    await settleSaves();
    assert.deepEqual(names(client.pump(), 1), ["channel.close", "channel.close-ok"]);
    client.method(1, { name: "channel.close-ok" });
    assert.deepEqual(names(client.pump()), []);
    assert.equal(roundTrip(client, 2), true);
  });
});

describe("connection.close from the client", () => {
  test("close-ok releases everything at once and leaves the socket to the client", () => {
    const { broker, client } = setup();
    client.declareQueue(1, "excl", { exclusive: true });
    client.method(1, {
      name: "basic.consume",
      queue: "excl",
      consumerTag: "c",
      noLocal: false,
      noAck: false,
      exclusive: false,
      noWait: false,
      arguments: new Map(),
    });
    client.pump();
    assert.equal(broker.connections.size, 1);
    client.method(0, connectionClose);
    assert.deepEqual(names(client.pump()), ["connection.close-ok"]);
    assert.equal(client.closedSocket, false, "the socket is the client's to close");
    assert.equal(client.conn.state, "closed");
    assert.equal(broker.connections.size, 0, "not counted as a connection any more");
    assert.equal(client.conn.channels.size, 0);
    assert.equal(broker.vhosts.get("/")!.queues.has("excl"), false, "exclusive queue deleted");
    assert.equal(broker.counters.connectionsClosed, 1);
  });

  test("a second connection.close (a client closing from two threads) gets close-ok too", () => {
    const { client } = setup();
    client.send(frames([0, connectionClose], [0, connectionClose]));
    client.method(0, connectionClose);
    assert.deepEqual(names(client.pump()), [
      "connection.close-ok",
      "connection.close-ok",
      "connection.close-ok",
    ]);
    assert.equal(client.closedSocket, false);
  });

  test("frames after close-ok are ignored, without an error or a reply", () => {
    const { client } = setup();
    client.method(0, connectionClose);
    client.pump();
    client.method(1, { name: "basic.qos", prefetchSize: 0, prefetchCount: 0, global: false });
    client.method(3, { name: "channel.open" });
    client.publish(2, "", "q", "late");
    assert.deepEqual(names(client.pump()), []);
    assert.equal(client.closedSocket, false);
  });

  for (const heartbeatSec of [0, 60]) {
    test(`a client that never closes its socket loses it after 30 s (heartbeat ${heartbeatSec})`, () => {
      const { clock, client } = setup();
      client.conn.heartbeatSec = heartbeatSec;
      client.method(0, connectionClose);
      client.pump();
      clock.now += 29_000;
      client.conn.tick(clock.now);
      assert.equal(client.closedSocket, false);
      clock.now += 1_200;
      client.conn.tick(clock.now);
      assert.equal(client.closedSocket, true);
    });
  }

  test("the closing timeout is the negotiated heartbeat when that is under 30 s", () => {
    const { clock, client } = setup();
    client.conn.heartbeatSec = 5;
    client.method(0, connectionClose);
    client.pump();
    clock.now += 4_800;
    client.conn.tick(clock.now);
    assert.equal(client.closedSocket, false);
    clock.now += 400;
    client.conn.tick(clock.now);
    assert.equal(client.closedSocket, true);
  });
});

describe("connection.close crossing the broker's", () => {
  test("is answered with close-ok, and the broker still waits for the close-ok it is owed", () => {
    const { client } = setup();
    client.method(1, { name: "basic.qos", prefetchSize: 10, prefetchCount: 0, global: false });
    assert.ok(names(client.pump()).includes("connection.close"));
    client.method(0, connectionClose);
    assert.deepEqual(names(client.pump()), ["connection.close-ok"]);
    assert.equal(client.closedSocket, false);
    client.method(0, { name: "connection.close-ok" });
    client.pump();
    assert.equal(client.closedSocket, true);
    assert.equal(client.conn.state, "closed");
  });
});

describe("channel.flow from the client", () => {
  test("active=false is refused with 540 NOT_IMPLEMENTED, closing the connection (RabbitMQ)", () => {
    const { client } = setup();
    client.method(1, { name: "channel.flow", active: false });
    const close = client.pump().find((r) => r.method.name === "connection.close")?.method;
    assert.deepEqual(close, {
      name: "connection.close",
      replyCode: 540,
      replyText: "NOT_IMPLEMENTED - active=false",
      classId: 20,
      methodId: 20,
    });
  });

  test("active=true is answered with flow-ok active=true and changes nothing", () => {
    const { client } = setup();
    client.method(1, { name: "channel.flow", active: true });
    const ok = client.pump().find((r) => r.method.name === "channel.flow-ok");
    assert.deepEqual(ok, { channel: 1, method: { name: "channel.flow-ok", active: true } });
    assert.equal(roundTrip(client, 1), true);
  });
});
