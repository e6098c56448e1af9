/**
 * Classic queues in a 3-node cluster (issue 16 item 4), with real clients on real sockets:
 * a queue lives on its home node (the node whose client declared it) and is reachable from
 * every node. A publish on any node reaches the home (confirmed after the home's fsync); a
 * consumer or basic.get on any node is served from the home, with prefetch and acks across
 * nodes; declare-ok on any node gives the home's counts. Exclusive queues live on their
 * connection's node. (When the home is down or restarts: cluster-queues-node-down.test.ts.)
 *
 * Node A = node1 (index 0), B = node2 (index 1, the home of most queues here), C = node3.
 * The list_queues check uses the pid and leader columns: rabbitmqctl has no node column; a
 * classic queue's pid names its node, and RabbitMQ 4.1 added leader (the node) for them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import { uniqueName, withTimeout } from "../support/amqplib-helpers.js";
import {
  assertBodies,
  channel,
  channelError,
  consumeWindowed,
  get,
  passiveCount,
  range,
} from "../support/cluster-amqp.js";
import { ClusterQueueFixture } from "../support/cluster-queue-fixture.js";
import { eventually } from "../support/eventually.js";
import { warrenctl } from "../support/mgmt-broker.js";
import { runPythonScenario } from "../support/python-client.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
const A = 0;
const B = 1;
const C = 2;

let f: ClusterQueueFixture;

before(async () => {
  if (skip) return;
  f = await ClusterQueueFixture.start();
});

after(async () => {
  await f?.stop();
});

describe("classic queues across a 3-node cluster", { skip }, () => {
  test("1,000 persistent messages published with confirms on A reach a consumer on C of a queue homed on B, once, in order, within prefetch 10", async () => {
    const queue = await f.durableQueueOn(B, "cq-1000");
    const consumer = await f.on(C);
    const consumed = consumeWindowed(consumer, queue, 1000, 10);
    await f.publishConfirmed(A, queue, range(1000));
    const { got, maxUnacked } = await consumed;
    assertBodies(
      got.map((d) => d.body),
      range(1000),
      "each message once, in the order published",
    );
    assert.equal(got.filter((d) => d.redelivered).length, 0);
    assert.ok(maxUnacked <= 10, `at most 10 unacked at a time, saw ${maxUnacked}`);
    assert.equal(maxUnacked, 10, "the window filled");
    // The queue is homed on B, on every node's API and in list_queues.
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(
        await f.apiQueue(i, queue),
        { status: 200, node: f.nodeName(B) },
        `node ${i}`,
      );
      // rabbitmqctl has no node column: a classic queue's pid names its node, and so does
      // its leader (RabbitMQ 4.1).
      const listed = await warrenctl(f.mgmtUrl(i), ["list_queues", "name", "pid", "leader"]);
      assert.equal(listed.exitCode, 0, listed.stderr);
      const row = listed.stdout.split("\n").find((l) => l.startsWith(`${queue}\t`));
      const [, pid, leader] = row?.split("\t") ?? [];
      assert.ok(pid?.startsWith(`<${f.nodeName(B)}.`), `list_queues pid on node ${i}: ${row}`);
      assert.equal(leader, f.nodeName(B), `list_queues leader on node ${i}: ${row}`);
    }
    const home = await f.on(B);
    // The last acks travel to the home on their own: wait for them, bounded.
    await eventually(
      "nothing left at the home",
      async () => (await passiveCount(home, queue)) === 0,
      5_000,
    );
  });

  test("pika: 200 persistent messages published with confirms on A are consumed on C from a queue homed on B, once, in order, within prefetch 10", async () => {
    const queue = await f.durableQueueOn(B, "cq-pika");
    const published = await runPythonScenario<{ published: number; nacked: number }>(
      "cluster_pika_scenarios.py",
      "publish",
      f.cluster.url(A),
      [queue, "200"],
      60_000,
    );
    assert.deepEqual(published, { published: 200, nacked: 0 });
    const consumed = await runPythonScenario<{
      bodies: string[];
      redelivered: number;
      maxOutstanding: number;
      left: number;
    }>("cluster_pika_scenarios.py", "consume", f.cluster.url(C), [queue, "200", "10"], 60_000);
    assertBodies(consumed.bodies, range(200), "each message once, in the order published");
    assert.equal(consumed.redelivered, 0);
    assert.ok(consumed.maxOutstanding <= 10, `saw ${consumed.maxOutstanding} unacked`);
    assert.equal(consumed.left, 0);
  });

  test("a confirmed publish on A through a fanout exchange reaches queues homed on B and on C", async () => {
    const onB = await f.durableQueueOn(B, "cq-fan-b");
    const onC = await f.durableQueueOn(C, "cq-fan-c");
    const exchange = uniqueName("cq-fan");
    const a = await f.on(A);
    const setup = await channel(a);
    await setup.assertExchange(exchange, "fanout", { durable: true });
    await setup.bindQueue(onB, exchange, "");
    await setup.bindQueue(onC, exchange, "");
    const pch = await a.createConfirmChannel();
    for (const body of range(20, "f")) {
      pch.publish(exchange, "", Buffer.from(body), { persistent: true });
    }
    await withTimeout(pch.waitForConfirms(), 30_000, "confirms of the fanout publishes");
    for (const [i, queue] of [
      [B, onB],
      [C, onC],
    ] as const) {
      const home = await f.on(i);
      assert.equal(await passiveCount(home, queue), 20, `at ${f.nodeName(i)}, its home`);
      const { got } = await consumeWindowed(home, queue, 20, 10);
      assertBodies(
        got.map((d) => d.body),
        range(20, "f"),
        `${queue} on ${f.nodeName(i)}`,
      );
    }
  });

  test("basic.get on C from a queue homed on B: ack removes, nack(requeue) returns it redelivered", async () => {
    const queue = await f.durableQueueOn(B, "cq-get");
    await f.publishConfirmed(A, queue, range(3, "g"));
    const conn = await f.on(C);
    const ch = await channel(conn);
    const first = await get(ch, queue);
    assert.equal(first.content.toString(), "g0");
    assert.equal(first.fields.redelivered, false);
    assert.equal(first.fields.messageCount, 2, "get-ok's message count is the home's ready count");
    ch.ack(first);
    const second = await get(ch, queue);
    assert.equal(second.content.toString(), "g1");
    assert.equal(second.fields.redelivered, false);
    ch.nack(second, false, true);
    const again = await get(ch, queue);
    assert.equal(again.content.toString(), "g1", "requeued to its place at the head");
    assert.equal(again.fields.redelivered, true);
    ch.ack(again);
    const third = await get(ch, queue);
    assert.equal(third.content.toString(), "g2");
    ch.ack(third);
    assert.equal(await withTimeout(ch.get(queue), 10_000, "get-empty"), false);
    const home = await f.on(B);
    await eventually(
      "the acks to reach the home",
      async () => (await passiveCount(home, queue)) === 0,
      5_000,
    );
  });

  test("a nack(requeue) and a channel closed with unacked messages on C return them to the home, redelivered", async () => {
    const queue = await f.durableQueueOn(B, "cq-requeue");
    await f.publishConfirmed(A, queue, range(5, "r"));
    const conn = await f.on(C);
    const ch = await channel(conn);
    await ch.prefetch(2);
    const held: amqp.ConsumeMessage[] = [];
    const two = new Promise<void>((resolve) => {
      void ch.consume(queue, (m) => {
        if (!m) return;
        held.push(m);
        if (held.length === 2) resolve();
      });
    });
    await withTimeout(two, 10_000, "two deliveries on C");
    assert.deepEqual(
      held.map((m) => m.content.toString()),
      ["r0", "r1"],
    );
    // Cancel first, so that the requeued message is not simply delivered to it again.
    await ch.cancel(held[0]!.fields.consumerTag);
    ch.nack(held[0]!, false, true);
    await ch.close(); // r1 is still unacked: the close returns it
    const homeConn = await f.on(B);
    await eventually(
      "both back at the home",
      async () => (await passiveCount(homeConn, queue)) === 5,
      5_000,
    );
    const home = await channel(homeConn);
    const back = [await get(home, queue), await get(home, queue)];
    assert.deepEqual(back.map((m) => [m.content.toString(), m.fields.redelivered]).sort(), [
      ["r0", true],
      ["r1", true],
    ]);
    const rest = [await get(home, queue), await get(home, queue), await get(home, queue)];
    assert.deepEqual(
      rest.map((m) => [m.content.toString(), m.fields.redelivered]),
      [
        ["r2", false],
        ["r3", false],
        ["r4", false],
      ],
    );
  });

  test("queue.declare-ok on a node that is not the home reports the home's ready count", async () => {
    const queue = await f.durableQueueOn(B, "cq-count");
    await f.publishConfirmed(B, queue, range(7, "n"));
    const onC = await f.on(C);
    assert.equal(await passiveCount(onC, queue), 7, "passive declare on C");
    const ch = await channel(onC);
    assert.equal((await ch.assertQueue(queue, { durable: true })).messageCount, 7, "redeclare");
    // Two taken and not acked: the ready count is 5 everywhere.
    await get(ch, queue);
    await get(ch, queue);
    assert.equal(await passiveCount(await f.on(A), queue), 5, "passive declare on A");
    assert.equal(await passiveCount(onC, queue), 5, "passive declare on C");
    assert.equal(await passiveCount(await f.on(B), queue), 5, "passive declare on the home");
  });

  test("an exclusive queue lives on its connection's node A, and is gone on every node when that connection closes", async () => {
    const owner = await f.on(A);
    const ch = await channel(owner);
    const { queue } = await ch.assertQueue("", { exclusive: true });
    ch.sendToQueue(queue, Buffer.from("mine"));
    const m = await get(ch, queue);
    assert.equal(m.content.toString(), "mine");
    ch.ack(m);
    for (let i = 0; i < 3; i++) {
      let listed: { status: number; node?: string } = { status: 0 };
      await eventually(`node ${i} to list ${queue}`, async () => {
        listed = await f.apiQueue(i, queue);
        return listed.status === 200;
      });
      assert.equal(listed.node, f.nodeName(A), `its home on node ${i}'s API`);
    }
    await owner.close();
    for (let i = 0; i < 3; i++) {
      await eventually(
        `${queue} gone from node ${i}'s API`,
        async () => (await f.apiQueue(i, queue)).status === 404,
      );
      const other = await f.on(i);
      const err = await channelError(other, (x) => x.checkQueue(queue));
      assert.equal(err.code, 404, `passive declare on node ${i}: ${err.message}`);
    }
  });
});
