import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connectionView } from "../../../src/mgmt/views/connection-view.js";
import { DEFAULT_FLOW_MARKS } from "../../../src/queue/queue-pressure.js";
import type { Broker } from "../../../src/vhost/broker.js";
import { InProcessClient, testBroker } from "../../support/in-process-client.js";

// Publisher flow control (issue 13 item 10) through real connections, no sockets: a
// queue falling behind stops the broker reading its publisher; the publisher goes on
// when the queue's consumers catch up, go away, stall, or the queue is deleted.

/** 64 KiB bodies: a queue holds its publishers after about 128 of them. */
const BODY = Buffer.alloc(64 * 1024);

function setup(prefetch = 10) {
  const clock = { now: 1_000_000 };
  const broker = testBroker(() => clock.now);
  const publisher = new InProcessClient(broker);
  publisher.handshake();
  publisher.openChannel(1);
  publisher.declareQueue(1, "q");
  publisher.pump();
  const consumer = new InProcessClient(broker);
  consumer.handshake();
  consumer.openChannel(1);
  consume(consumer, 1, "q", prefetch);
  return { clock, broker, publisher, consumer };
}

function consume(c: InProcessClient, channel: number, queue: string, prefetch: number): void {
  c.method(channel, { name: "basic.qos", prefetchSize: 0, prefetchCount: prefetch, global: false });
  c.method(channel, {
    name: "basic.consume",
    queue,
    consumerTag: `c${channel}`,
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  c.pump();
}

/** Publishes until the broker stops reading (bounded); returns how many went in. */
function publishUntilHeld(p: InProcessClient, channel = 1, limit = 2000): number {
  let n = 0;
  while (!p.paused && n < limit) {
    p.publish(channel, "", "q", BODY);
    p.pump();
    n++;
  }
  return n;
}

/** How much of each client's `received` was already looked at by ackAll. */
const seen = new WeakMap<InProcessClient, number>();

/** Acks every delivery on `channel` the client got since the last call; returns how many. */
function ackAll(c: InProcessClient, channel = 1): number {
  c.pump();
  const fresh = c.received.slice(seen.get(c) ?? 0);
  seen.set(c, c.received.length);
  const tags = fresh
    .filter((r) => r.channel === channel && r.method.name === "basic.deliver")
    .map((r) => (r.method as { deliveryTag: number }).deliveryTag);
  for (const deliveryTag of tags)
    c.method(channel, { name: "basic.ack", deliveryTag, multiple: false });
  return tags.length;
}

/** Acks the oldest delivery not acked yet (deliveries come in tag order). */
function takeOne(c: InProcessClient): void {
  c.pump();
  const acked = seen.get(c) ?? 0;
  const at = c.received.findIndex((r, i) => i >= acked && r.method.name === "basic.deliver");
  if (at < 0) return;
  seen.set(c, at + 1);
  const deliveryTag = (c.received[at]!.method as { deliveryTag: number }).deliveryTag;
  c.method(1, { name: "basic.ack", deliveryTag, multiple: false });
}

const stateOf = (c: InProcessClient) => connectionView(c.conn, "warren@test").state;

function queueDepth(broker: Broker): number {
  return broker.vhosts.get("/")!.queues.get("q")!.messageCount;
}

describe("publisher flow control", () => {
  test("a queue falling behind its consumers stops the broker reading its publisher, until they catch up", () => {
    const { broker, publisher, consumer } = setup();
    const sent = publishUntilHeld(publisher);
    assert.equal(publisher.paused, true, `held after ${sent} publishes`);
    const perMessage = BODY.length + 300;
    assert.equal(sent, Math.ceil(DEFAULT_FLOW_MARKS.holdWeight / perMessage) + 10);
    assert.equal(stateOf(publisher), "flow");
    assert.equal(stateOf(consumer), "running", "a consumer is never held");
    assert.equal(broker.counters.flowPauses, 1);
    // The consumer works through the backlog: the publisher goes on after 1 MiB
    // of the in-memory budget was taken, not before.
    let acked = 0;
    while (publisher.paused && acked < 1000) acked += ackAll(consumer);
    assert.equal(publisher.paused, false);
    const releaseAfter = Math.ceil(DEFAULT_FLOW_MARKS.releaseWeight / perMessage);
    assert.ok(acked >= releaseAfter && acked <= releaseAfter + 20, `released after ${acked} acks`);
    assert.equal(stateOf(publisher), "flow", "still shown as flow just after");
    // Reading resumed: publishing goes on until the queue is behind again.
    assert.ok(publishUntilHeld(publisher) > 1);
    assert.equal(broker.counters.flowPauses, 2);
  });

  test("a held publisher keeps its heartbeat=1 connection and gets the broker's heartbeats", () => {
    const { clock, publisher, consumer } = setup();
    publisher.conn.heartbeatSec = 1;
    publishUntilHeld(publisher);
    assert.equal(publisher.paused, true);
    const beats = publisher.heartbeats;
    // Ten intervals: the consumer takes one message a second, too slow to release it.
    for (let i = 0; i < 50; i++) {
      clock.now += 200;
      publisher.conn.tick(clock.now);
      consumer.conn.tick(clock.now);
      if (i % 5 === 0) takeOne(consumer);
      publisher.pump();
    }
    assert.equal(publisher.paused, true, "still held: its queue is still behind");
    assert.equal(publisher.closedSocket, false, "not dropped for missed heartbeats");
    assert.ok(publisher.heartbeats - beats >= 10, `heartbeats: ${publisher.heartbeats - beats}`);
  });

  test("the publisher goes on at once when the queue's last consumer leaves", () => {
    const { publisher, consumer } = setup();
    publishUntilHeld(publisher);
    assert.equal(publisher.paused, true);
    consumer.method(1, { name: "basic.cancel", consumerTag: "c1", noWait: false });
    assert.equal(publisher.paused, false);
  });

  test("the publisher goes on within a tick when the queue is deleted", () => {
    const { clock, broker, publisher, consumer } = setup();
    publishUntilHeld(publisher);
    assert.equal(publisher.paused, true);
    consumer.method(1, {
      name: "queue.delete",
      queue: "q",
      ifUnused: false,
      ifEmpty: false,
      noWait: false,
    });
    assert.equal(broker.vhosts.get("/")!.queues.has("q"), false);
    clock.now += 200;
    publisher.conn.tick(clock.now);
    assert.equal(publisher.paused, false);
  });

  test("consumers that stop taking messages let the publisher go: the queue becomes a store", () => {
    const { clock, broker, publisher } = setup();
    publishUntilHeld(publisher);
    assert.equal(publisher.paused, true);
    // The consumer never acks: nothing is delivered after its prefetch filled.
    for (let t = 0; t <= DEFAULT_FLOW_MARKS.stallMs; t += 200) {
      clock.now += 200;
      publisher.conn.tick(clock.now);
    }
    assert.equal(publisher.paused, false);
    // Publishing to a store is never held.
    const before = queueDepth(broker);
    assert.equal(publishUntilHeld(publisher, 1, 500), 500);
    assert.equal(queueDepth(broker), before + 500);
  });

  test("a queue with no consumer never holds its publisher", () => {
    const clock = { now: 1_000_000 };
    const broker = testBroker(() => clock.now);
    const publisher = new InProcessClient(broker);
    publisher.handshake();
    publisher.openChannel(1);
    publisher.declareQueue(1, "q");
    publisher.pump();
    assert.equal(publishUntilHeld(publisher, 1, 1000), 1000);
    assert.equal(stateOf(publisher), "running");
  });

  test("a lazy queue never holds its publisher; a policy making a queue lazy lets a held one go", () => {
    const { clock, broker, publisher } = setup();
    publishUntilHeld(publisher);
    assert.equal(publisher.paused, true);
    broker.setPolicy("policy", {
      vhost: "/",
      name: "long-backlogs",
      pattern: "^q$",
      applyTo: "queues",
      priority: 0,
      definition: { "queue-mode": "lazy" },
    });
    clock.now += 200;
    publisher.conn.tick(clock.now);
    assert.equal(publisher.paused, false);
    assert.equal(publishUntilHeld(publisher, 1, 500), 500, "never held again");
  });

  test("a connection that publishes to a queue it consumes from itself is not held by it", () => {
    // Its acks arrive on the same socket: holding it would stop the queue it waits for.
    const clock = { now: 1_000_000 };
    const broker = testBroker(() => clock.now);
    const both = new InProcessClient(broker);
    both.handshake();
    both.openChannel(1);
    both.openChannel(2);
    both.declareQueue(1, "q");
    both.pump();
    consume(both, 2, "q", 10);
    assert.equal(publishUntilHeld(both, 1, 1000), 1000);
    assert.equal(both.paused, false);
    // And it makes progress: its acks are read, so deliveries go on.
    assert.ok(ackAll(both, 2) > 0);
    assert.ok(ackAll(both, 2) > 0);
  });

  test("a connection held by a queue is dropped from it when it closes", () => {
    const { broker, publisher } = setup();
    publishUntilHeld(publisher);
    const q = broker.vhosts.get("/")!.queues.get("q")!;
    assert.equal(q.pressure!.watched, true);
    publisher.conn.socketClosed();
    assert.equal(q.pressure!.watched, false);
  });
});
