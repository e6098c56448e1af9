import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient } from "../../support/in-process-client.js";

function setup() {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  const caps = ["connection.blocked", "consumer_cancel_notify"];
  const publisher = new InProcessClient(broker);
  publisher.handshake("guest", "guest", "/", caps);
  publisher.openChannel(1);
  const consumer = new InProcessClient(broker);
  consumer.handshake("guest", "guest", "/", caps);
  consumer.openChannel(1);
  for (const c of [publisher, consumer]) {
    c.method(1, {
      name: "queue.declare",
      queue: "q",
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      noWait: false,
      arguments: new Map(),
    });
    c.pump();
  }
  publisher.publish(1, "", "q", "before the alarm");
  publisher.pump();
  return { broker, publisher, consumer };
}

test("a memory alarm blocks publishing connections with connection.blocked and stops reading them", () => {
  const { broker, publisher, consumer } = setup();
  broker.setAlarm("memory", true, "test");
  assert.deepEqual(
    publisher.pump().map((r) => r.method),
    [{ name: "connection.blocked", reason: "low on memory" }],
  );
  assert.equal(publisher.paused, true);
  assert.deepEqual(consumer.pump(), [], "a connection that never published is not blocked");
  assert.equal(consumer.paused, false);
  // Consumers keep draining.
  consumer.method(1, { name: "basic.get", queue: "q", noAck: true });
  assert.equal(consumer.pump()[0]!.method.name, "basic.get-ok");
});

test("a connection that publishes during an alarm is blocked then; clearing the alarm unblocks", () => {
  const { broker, publisher, consumer } = setup();
  broker.setAlarm("disk", true, "test");
  publisher.pump();
  consumer.publish(1, "", "q", "first publish during the alarm");
  assert.deepEqual(
    consumer.pump().map((r) => r.method),
    [{ name: "connection.blocked", reason: "low on disk" }],
  );
  assert.equal(consumer.paused, true);
  broker.setAlarm("memory", true, "test");
  broker.setAlarm("disk", false, "test");
  assert.equal(publisher.paused, true, "still blocked: memory is low");
  broker.setAlarm("memory", false, "test");
  assert.deepEqual(
    publisher.pump().map((r) => r.method.name),
    ["connection.unblocked"],
  );
  assert.deepEqual(
    consumer.pump().map((r) => r.method.name),
    ["connection.unblocked"],
  );
  assert.equal(publisher.paused, false);
  assert.equal(consumer.paused, false);
});

test("a client without the connection.blocked capability is not read from, but gets no frame", () => {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  const old = new InProcessClient(broker);
  old.handshake();
  old.openChannel(1);
  old.publish(1, "amq.direct", "x", "hello");
  old.pump();
  broker.setAlarm("memory", true, "test");
  assert.deepEqual(old.pump(), []);
  assert.equal(old.paused, true);
});

test("a connection blocked by an alarm is not dropped for missed heartbeats, and keeps getting the broker's", () => {
  // Issue 13 item 6: RabbitMQ pauses its heartbeat monitor while it does not read a
  // blocked connection (rabbit_reader maybe_block, rabbit_heartbeat:pause_monitor).
  let now = 1_000_000;
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, { ...systemSources, clock: () => now });
  broker.bootstrapDefaults();
  const client = new InProcessClient(broker);
  client.handshake("guest", "guest", "/", ["connection.blocked"]);
  client.conn.heartbeatSec = 1; // what tune-ok with heartbeat=1 sets
  client.openChannel(1);
  client.declareQueue(1, "q");
  client.publish(1, "", "q", "makes it a publisher");
  client.pump();
  broker.setAlarm("memory", true, "test");
  assert.deepEqual(
    client.pump().map((r) => r.method.name),
    ["connection.blocked"],
  );
  const beatsBefore = client.heartbeats;
  // Ten heartbeat intervals of alarm, ticked as the runtime does (every 200 ms); the
  // client's own heartbeats wait unread in the socket.
  for (let i = 0; i < 50; i++) {
    now += 200;
    client.conn.tick(now);
    client.pump();
  }
  assert.equal(client.closedSocket, false, "the blocked connection was kept");
  assert.equal(client.conn.state, "open");
  assert.ok(client.heartbeats - beatsBefore >= 10, `heartbeats sent: ${client.heartbeats}`);

  broker.setAlarm("memory", false, "test");
  assert.deepEqual(
    client.pump().map((r) => r.method.name),
    ["connection.unblocked"],
  );
  assert.equal(client.paused, false);
  // The monitor starts afresh when reading resumes: silent for under two intervals is fine...
  now += 1800;
  client.conn.tick(now);
  assert.equal(client.closedSocket, false);
  // ...but a client that stays silent for longer is dropped, as before.
  now += 400;
  client.conn.tick(now);
  assert.equal(client.closedSocket, true, "the monitor works again after the block");
});
