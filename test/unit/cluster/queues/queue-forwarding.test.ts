import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueRequest } from "../../../../src/cluster/queues/queue-wire.js";
import type { QueueDelivery } from "../../../../src/queue/queue-type.js";
import {
  ForwardingCluster,
  message,
  publish,
  TestConsumer,
  turns,
  until,
} from "./forwarding-fixture.js";

test("a publish to a queue homed on the other node is enqueued there, and settles accepted once it is", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  const result = await publish(c.queue("a", "q"), "hello");
  assert.deepEqual(result, { accepted: true });
  assert.equal(c.stats("b", "q").messagesReady, 1);
  assert.equal(c.queue("b", "q").remote, undefined, "b holds the real queue");
  assert.notEqual(c.queue("a", "q").remote, undefined, "a holds a stand-in");
});

test("a publish while the home is out of reach is refused at once", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  c.net.cut("a", "b");
  await turns();
  const result = await publish(c.queue("a", "q"), "lost");
  assert.equal(result.accepted, false);
  assert.equal(c.stats("b", "q").messagesReady, 0);
});

test("a consumer with prefetch N never holds more than N unacked on the consuming side, and gets more as it acks", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (let i = 0; i < 20; i++) await publish(c.queue("b", "q"), `m${i}`);
  const consumer = TestConsumer.attach(c.queue("a", "q"), 3);
  await until(() => consumer.received.length === 3, "three deliveries");
  await turns();
  assert.equal(consumer.received.length, 3, "no more than the prefetch arrives");
  assert.ok(c.stats("b", "q").messagesUnacknowledged <= 3);
  let acked = 0;
  while (acked < 20) {
    const d = consumer.received[acked];
    assert.ok(d, `delivery ${acked} arrived`);
    consumer.settle(d, "ack");
    acked++;
    await until(() => consumer.received.length >= Math.min(20, acked + 3), `delivery ${acked + 3}`);
    assert.ok(consumer.consumer.unacked <= 3, `unacked ${consumer.consumer.unacked}`);
  }
  assert.equal(consumer.maxUnacked, 3);
  await turns();
  const home = c.stats("b", "q");
  assert.equal(home.messagesReady, 0);
  assert.equal(home.messagesUnacknowledged, 0);
  assert.equal(home.acked, 20);
});

test("ack, requeue and reject of a consumer on another node reach the home", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (const body of ["ack me", "requeue me", "reject me"]) await publish(c.queue("b", "q"), body);
  const consumer = TestConsumer.attach(c.queue("a", "q"));
  await until(() => consumer.received.length === 3, "three deliveries");
  // Cancelled first, so the requeued message is not delivered to it again.
  c.queue("a", "q").removeConsumer(consumer.consumer, 0);
  const [ack, requeue, reject] = consumer.received as [QueueDelivery, QueueDelivery, QueueDelivery];
  consumer.settle(ack, "ack");
  consumer.settle(requeue, "requeue");
  consumer.settle(reject, "reject");
  await until(() => c.stats("b", "q").messagesUnacknowledged === 0, "the home settled all three");
  const home = c.stats("b", "q");
  assert.equal(home.acked, 1);
  assert.equal(home.messagesReady, 1, "the requeued one is back, the rejected one gone");
  const again = await c.queue("a", "q").fetchAtHome!(true, 0);
  assert.equal(again?.message.body.toString(), "requeue me");
  assert.equal(again?.redelivered, true);
});

test("a cut link requeues at the home everything outstanding and cancels the consumer with home-down", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (let i = 0; i < 5; i++) await publish(c.queue("b", "q"), `m${i}`);
  const consumer = TestConsumer.attach(c.queue("a", "q"), 10);
  await until(() => consumer.received.length === 5, "five deliveries");
  assert.equal(c.stats("b", "q").messagesUnacknowledged, 5);
  c.net.cut("a", "b");
  await until(() => consumer.cancelled !== undefined, "the consumer is cancelled");
  assert.equal(consumer.cancelled, "home-down");
  const home = c.stats("b", "q");
  assert.equal(home.messagesUnacknowledged, 0);
  assert.equal(home.messagesReady, 5);
  assert.equal(c.nodes.get("b")!.forwarding.stats().remoteConsumers, 0);
  // The next consumer (on the home itself) sees them redelivered, in order.
  const local = TestConsumer.attach(c.queue("b", "q"));
  assert.deepEqual(local.bodies, ["m0", "m1", "m2", "m3", "m4"]);
  assert.ok(local.received.every((d) => d.redelivered));
});

test("settles sent before a cut and lost with it do not settle twice: the home requeued them, and a stale ack after the heal touches nothing", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (let i = 0; i < 3; i++) await publish(c.queue("b", "q"), `m${i}`);
  const first = TestConsumer.attach(c.queue("a", "q"));
  await until(() => first.received.length === 3, "three deliveries");
  c.net.hold();
  for (const d of first.received) first.settle(d, "ack");
  await turns(); // the settle frame is in flight
  c.net.cut("a", "b");
  c.net.release();
  await until(() => first.cancelled !== undefined, "the consumer is cancelled");
  let home = c.stats("b", "q");
  assert.equal(home.acked, 0, "the acks were lost with the link");
  assert.equal(home.messagesReady, 3);
  c.net.heal("a", "b");
  const second = TestConsumer.attach(c.queue("a", "q"));
  await until(() => second.received.length === 3, "three redeliveries");
  assert.ok(second.received.every((d) => d.redelivered));
  // The new session numbers its deliveries from 1 again: the old acks must not reach them.
  for (const d of first.received) first.settle(d, "ack");
  await turns();
  home = c.stats("b", "q");
  assert.equal(home.acked, 0);
  assert.equal(home.messagesUnacknowledged, 3);
  for (const d of second.received) second.settle(d, "ack");
  await until(() => c.stats("b", "q").acked === 3, "three acks");
  home = c.stats("b", "q");
  assert.equal(home.messagesUnacknowledged, 0);
  assert.equal(home.messagesReady, 0);
});

test("basic.get on another node is answered by the home, and its ack goes back there", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  const standIn = c.queue("a", "q");
  assert.equal(await standIn.fetchAtHome!(false, 0), undefined, "empty queue");
  await publish(standIn, "one");
  await publish(standIn, "two");
  const got = await standIn.fetchAtHome!(false, 0);
  assert.equal(got?.message.body.toString(), "one");
  assert.equal(standIn.messageCount, 1, "the answer carries the count left");
  assert.equal(c.stats("b", "q").messagesUnacknowledged, 1);
  standIn.ack(got!, undefined, 0);
  await until(() => c.stats("b", "q").acked === 1, "the get's ack");
  assert.equal(c.stats("b", "q").messagesReady, 1);
});

test("a basic.get left unacked when the link is lost goes back to its queue", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  await publish(c.queue("a", "q"), "one");
  const got = await c.queue("a", "q").fetchAtHome!(false, 0);
  assert.ok(got);
  c.net.cut("a", "b");
  await until(() => c.stats("b", "q").messagesReady === 1, "the get is requeued");
  assert.equal(c.stats("b", "q").messagesUnacknowledged, 0);
});

test("counts and purge asked on another node are the home's", async () => {
  const c = new ForwardingCluster(["a", "b", "c"]);
  c.declare("q", "b");
  for (let i = 0; i < 4; i++) await publish(c.queue("c", "q"), `m${i}`);
  const counts = await c.queue("a", "q").countsAtHome!();
  assert.deepEqual(counts, { messageCount: 4, consumerCount: 0 });
  assert.equal(await c.queue("a", "q").purgeAtHome!(), 4);
  assert.equal(c.stats("b", "q").messagesReady, 0);
  assert.deepEqual(await c.queue("c", "q").countsAtHome!(), { messageCount: 0, consumerCount: 0 });
});

test("deliveries keep the order of publishes, from a publisher on one node to a consumer on a third", async () => {
  const c = new ForwardingCluster(["a", "b", "c"]);
  c.declare("q", "b");
  const consumer = TestConsumer.attach(c.queue("c", "q"), 7);
  const bodies = Array.from({ length: 60 }, (_, i) => `m${i}`);
  // Not awaited one by one: the publishes are in flight together, in order on the link.
  const outcomes = bodies.map((body) => publish(c.queue("a", "q"), body));
  assert.ok((await Promise.all(outcomes)).every((r) => r.accepted));
  let acked = 0;
  await until(() => {
    while (acked < consumer.received.length) consumer.settle(consumer.received[acked++]!, "ack");
    return acked === bodies.length;
  }, "every delivery");
  assert.deepEqual(consumer.bodies, bodies);
  assert.ok(consumer.maxUnacked <= 7);
});

test("a consumer cancelled on its node ends at the home, and what it held stays settleable there", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (let i = 0; i < 2; i++) await publish(c.queue("b", "q"), `m${i}`);
  const consumer = TestConsumer.attach(c.queue("a", "q"));
  await until(() => consumer.received.length === 2, "two deliveries");
  c.queue("a", "q").removeConsumer(consumer.consumer, 0);
  await until(() => c.nodes.get("b")!.forwarding.stats().remoteConsumers === 0, "the cancel");
  await publish(c.queue("b", "q"), "after");
  await turns();
  assert.equal(consumer.received.length, 2, "nothing more after the cancel");
  for (const d of consumer.received) consumer.settle(d, "ack");
  await until(() => c.stats("b", "q").acked === 2, "the acks");
  assert.equal(c.stats("b", "q").messagesReady, 1);
});

test("deliveries in flight when a consumer on another node is cancelled go back to the queue, not stuck unacked at the home", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  const consumer = TestConsumer.attach(c.queue("a", "q"), 5);
  await turns();
  c.net.hold();
  for (let i = 0; i < 3; i++) c.queue("b", "q").enqueue(message(`m${i}`), 0);
  await turns(); // three deliveries are in flight to a
  c.queue("a", "q").removeConsumer(consumer.consumer, 0);
  c.net.release();
  await until(() => c.nodes.get("b")!.forwarding.stats().remoteConsumers === 0, "the cancel");
  await turns();
  assert.equal(consumer.received.length, 0, "the client never saw them");
  const home = c.stats("b", "q");
  assert.equal(home.messagesUnacknowledged, 0, "nothing is left unacked at the home");
  assert.equal(home.messagesReady, 3);
});

test("a garbled counts answer from a home is ignored, not an unhandled rejection", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  // A home of another version, or a damaged answer: not the JSON list expected.
  c.net.endpoint("b").serve(QueueRequest.counts, async () => Buffer.from("{not json"));
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on("unhandledRejection", onRejection);
  try {
    c.nodes.get("a")!.forwarding.refreshCounts();
    await turns(20);
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  assert.deepEqual(rejections, []);
});

test("after a paused home resumes, a client's late acks of deliveries from before the pause do not ack the new consumers' deliveries", async () => {
  const c = new ForwardingCluster(["a", "b"]);
  c.declare("q", "b");
  for (let i = 0; i < 3; i++) await publish(c.queue("b", "q"), `m${i}`);
  const before = TestConsumer.attach(c.queue("a", "q"));
  await until(() => before.received.length === 3, "three deliveries");
  const host = c.nodes.get("b")!.forwarding.host;
  host.pause("cannot see a majority");
  await until(() => before.cancelled !== undefined, "the consumer is cancelled");
  assert.equal(c.stats("b", "q").messagesReady, 3, "the home requeued what a held");
  host.resume();
  const after = TestConsumer.attach(c.queue("a", "q"));
  await until(() => after.received.length === 3, "three redeliveries");
  // The first client acks late what it got before the pause: the home requeued those.
  for (const d of before.received) before.settle(d, "ack");
  await turns();
  const home = c.stats("b", "q");
  assert.equal(home.acked, 0, "nothing the new consumer holds was acked for it");
  assert.equal(home.messagesUnacknowledged, 3);
});

test("a pausing home sends nothing more: what it requeues from one node's consumers does not go out to another node's", async () => {
  const c = new ForwardingCluster(["a", "b", "c"]);
  c.declare("q", "b");
  const first = TestConsumer.attach(c.queue("a", "q"), 1);
  await turns();
  await publish(c.queue("b", "q"), "m");
  await until(() => first.received.length === 1, "a holds the message");
  const second = TestConsumer.attach(c.queue("c", "q"), 1);
  await turns();
  c.nodes.get("b")!.forwarding.host.pause("cannot see a majority");
  await until(() => second.cancelled !== undefined, "c's consumer is cancelled");
  assert.deepEqual(second.bodies, [], "the paused home delivered nothing to c");
  assert.equal(c.stats("b", "q").messagesReady, 1);
});
