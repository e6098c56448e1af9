import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { FrameType } from "../../../src/protocol/generated/constants.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient, openClient } from "../../support/in-process-client.js";

function setup() {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  return { broker, client };
}

function frame(type: number, channel: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head[0] = type;
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

/** A healthy second client on the same broker still completes a round trip. */
function bystanderWorks(broker: Broker): void {
  const other = new InProcessClient(broker);
  other.handshake();
  other.openChannel(1);
  other.method(1, {
    name: "queue.declare",
    queue: "",
    passive: false,
    durable: false,
    exclusive: true,
    autoDelete: false,
    noWait: false,
    arguments: new Map(),
  });
  const q = (
    other.pump().find((r) => r.method.name === "queue.declare-ok")!.method as { queue: string }
  ).queue;
  other.publish(1, "", q, "fine");
  other.method(1, { name: "basic.get", queue: q, noAck: true });
  assert.equal(other.pump().at(-1)!.body?.toString(), "fine");
}

function connectionClose(client: InProcessClient) {
  const m = client.pump().find((r) => r.method.name === "connection.close")?.method as
    | { replyCode: number; replyText: string }
    | undefined;
  return m && { code: m.replyCode, text: m.replyText };
}

test("basic.publish on channel 0 is 504 CHANNEL_ERROR, not an internal error", () => {
  const { broker, client } = setup();
  const payload = Buffer.from([0, 60, 0, 40, 0, 0, 0, 0, 0]);
  client.send(frame(FrameType.Method, 0, payload));
  assert.deepEqual(connectionClose(client), {
    code: 504,
    text: "CHANNEL_ERROR - unexpected method in connection state running",
  });
  bystanderWorks(broker);
});

test("a short string that is not UTF-8 is 501, and nothing broken reaches other connections", () => {
  const { broker, client } = setup();
  // queue.declare with a 200-byte queue name of 0xFF bytes.
  const name = Buffer.alloc(200, 0xff);
  const payload = Buffer.concat([
    Buffer.from([0, 50, 0, 10, 0, 0, name.length]),
    name,
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
  client.send(frame(FrameType.Method, 1, payload));
  assert.deepEqual(connectionClose(client), {
    code: 501,
    text: "FRAME_ERROR - Malformed UTF-8 in shortstr",
  });
  bystanderWorks(broker);
});

test("a field table nested thousands deep is 501, not a stack overflow", () => {
  const { broker, client } = setup();
  let table = Buffer.alloc(0);
  for (let i = 0; i < 5000; i++) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(table.length + 3);
    table = Buffer.concat([len, Buffer.from([1, 0x6b, 0x46]), table]); // key "k", type 'F'
  }
  // The innermost table needs its own (empty) length.
  table = Buffer.concat([table, Buffer.alloc(4)]);
  const payload = Buffer.concat([Buffer.from([0, 50, 0, 10, 0, 0, 1, 0x71, 0]), table]);
  client.send(frame(FrameType.Method, 1, payload));
  const close = connectionClose(client);
  assert.equal(close?.code, 501);
  bystanderWorks(broker);
});

test("confirms owed at the end of a turn are not sent after connection.close", () => {
  const { client } = setup();
  client.method(1, { name: "confirm.select", nowait: false });
  client.pump();
  // A publish (its confirm is owed at the end of the turn) and, in the same turn, a
  // heartbeat on channel 1, which closes the connection.
  client.publish(1, "", "nowhere", "x");
  client.send(frame(FrameType.Heartbeat, 1, Buffer.alloc(0)));
  const names = client.pump().map((r) => r.method.name);
  assert.ok(names.includes("connection.close"));
  assert.deepEqual(names.slice(names.indexOf("connection.close") + 1), [], `after close: ${names}`);
});

test("a close-ok after an error in the same chunk is still seen (the reader keeps its place)", () => {
  const { client } = setup();
  const bad = frame(FrameType.Method, 0, Buffer.from([0, 60, 0, 40, 0, 0, 0, 0, 0]));
  const closeOk = frame(FrameType.Method, 0, Buffer.from([0, 10, 0, 51]));
  client.send(Buffer.concat([bad, closeOk]));
  client.pump();
  assert.equal(client.conn.state, "closed");
});

// Found by the fuzz test (test/fuzz): a durable declare's reply waits for the
// definitions save; the connection was closed in between and the reply still went out.
test("a declare-ok held for the definitions save is not sent after connection.close", async () => {
  const scheduled: (() => void)[] = [];
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store: new MemoryMessageStore(),
    saveDefinitions: () => {},
    schedule: (fn) => scheduled.push(fn),
  });
  broker.bootstrapDefaults();
  for (const fn of scheduled.splice(0)) fn();
  const client = openClient(broker);
  client.declareQueue(1, "held", { durable: true });
  client.send(frame(FrameType.Heartbeat, 1, Buffer.alloc(0))); // closes the connection (503)
  for (const fn of scheduled.splice(0)) fn(); // the save completes afterwards
  await new Promise((resolve) => setImmediate(resolve));
  const names = client.pump().map((r) => r.method.name);
  assert.ok(names.includes("connection.close"), `${names}`);
  assert.deepEqual(names.slice(names.indexOf("connection.close") + 1), [], `after close: ${names}`);
});

// Found by the fuzz test: an oversized content header on a channel the broker had
// already closed drew a second channel.close.
test("frames on a channel the broker closed are dropped until close-ok, oversized content included", () => {
  const { broker, client } = setup();
  client.method(1, { name: "basic.get", queue: "no-such-queue", noAck: true });
  assert.deepEqual(
    client.pump().map((r) => r.method.name),
    ["channel.close"],
  );
  client.method(1, {
    name: "basic.publish",
    exchange: "",
    routingKey: "q",
    mandatory: false,
    immediate: false,
  });
  const header = Buffer.alloc(14);
  header.writeUInt16BE(60, 0);
  header.writeBigUInt64BE(2n ** 40n, 4); // far over max_message_size
  client.send(frame(FrameType.Header, 1, header));
  client.send(frame(FrameType.Body, 1, Buffer.from("ignored")));
  assert.deepEqual(client.pump(), [], "nothing may answer frames on a closing channel");
  client.method(1, { name: "channel.close-ok" });
  client.openChannel(1);
  assert.equal(client.received.at(-1)?.method.name, "channel.open-ok");
  assert.equal(client.conn.state, "open");
  bystanderWorks(broker);
});
