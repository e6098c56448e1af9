/**
 * Classic queues in a 3-node cluster (issue 16 item 4), with real clients on real sockets:
 * a queue lives on its home node (the node whose client declared it) and is reachable from
 * every node. A publish on any node reaches the home (confirmed after the home's fsync); a
 * consumer or basic.get on any node is served from the home, with prefetch and acks across
 * nodes. While the home is down its durable queues answer 404 (RabbitMQ's text), consumers
 * elsewhere get basic.cancel, publishes routed there are nacked; the queue comes back with
 * its messages when the home returns. Exclusive queues live on their connection's node.
 *
 * Node A = node1 (index 0), B = node2 (index 1, the home of most queues here), C = node3.
 * One cluster for the file; the tests that stop B run last. The list_queues check uses the
 * pid column: rabbitmqctl has no node column, and a classic queue's pid names its node.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type amqp from "amqplib";
import {
  type Channel,
  type Connection,
  connect,
  sleep,
  uniqueName,
  withTimeout,
} from "../support/amqplib-helpers.js";
import {
  assertBodies,
  channel,
  channelError,
  consumeWindowed,
  eventually,
  get,
  homeDownText,
  passiveCount,
  range,
  refusedConsume,
} from "../support/cluster-amqp.js";
import { TestCluster } from "../support/cluster-process.js";
import { api, warrenctl } from "../support/mgmt-broker.js";
import { runPythonScenario } from "../support/python-client.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
const A = 0;
const B = 1;
const C = 2;

let c: TestCluster;
const open: Connection[] = [];

before(async () => {
  if (skip) return;
  c = await TestCluster.create(3);
  await c.startAll();
  await c.allServing();
});

after(async () => {
  await Promise.all(open.map((conn) => conn.close().catch(() => {})));
  await c?.stopAll();
});

const nodeName = (i: number) => c.nodes[i]!.spec.name;

/** A connection to node i, closed after the file if the test does not close it. */
async function on(i: number): Promise<Connection> {
  const conn = await connect(c.url(i));
  conn.on("error", () => {});
  open.push(conn);
  return conn;
}

/** Declares a durable queue through node i (its home) and waits until every node knows it. */
async function durableQueueOn(i: number, prefix: string): Promise<string> {
  const queue = uniqueName(prefix);
  const conn = await on(i);
  const ch = await channel(conn);
  await ch.assertQueue(queue, { durable: true });
  await conn.close();
  // The metadata is committed before declare-ok; the others apply it with the leader's
  // next message: a publish routed on a node that has not applied it yet would find no queue.
  for (let n = 0; n < c.nodes.length; n++) {
    const other = await on(n);
    await eventually(`${queue} on node ${n}`, () => passiveCount(other, queue));
    await other.close();
  }
  return queue;
}

/** Publishes persistent `prefix+i` messages with confirms; fails on a nack or a return. */
async function publishConfirmed(i: number, queue: string, bodies: readonly string[]) {
  const conn = await on(i);
  const ch = await conn.createConfirmChannel();
  const returned: string[] = [];
  ch.on("return", (m: amqp.Message) => returned.push(m.content.toString()));
  for (const body of bodies) {
    ch.sendToQueue(queue, Buffer.from(body), { persistent: true, mandatory: true });
  }
  await withTimeout(ch.waitForConfirms(), 30_000, `confirms of ${bodies.length} publishes`);
  assert.deepEqual(returned, [], "no publish was returned unroutable");
  await conn.close();
}

/** What /api/queues/%2F/{queue} on node i says (status, node). */
async function apiQueue(i: number, queue: string): Promise<{ status: number; node?: string }> {
  const r = await api(c.nodes[i]!.mgmtUrl, "GET", `/api/queues/%2F/${encodeURIComponent(queue)}`);
  return { status: r.status, node: (r.body as { node?: string } | undefined)?.node };
}

describe("classic queues across a 3-node cluster", { skip }, () => {
  // A restart test that failed half-way leaves a node stopped: the next test needs it back.
  afterEach(async () => {
    for (let i = 0; i < c.nodes.length; i++) {
      if (c.nodes[i]!.broker !== undefined) continue;
      await c.start(i);
      await c.serving(i, 60_000);
    }
  });

  test("1,000 persistent messages published with confirms on A reach a consumer on C of a queue homed on B, once, in order, within prefetch 10", async () => {
    const queue = await durableQueueOn(B, "cq-1000");
    const consumer = await on(C);
    const consumed = consumeWindowed(consumer, queue, 1000, 10);
    await publishConfirmed(A, queue, range(1000));
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
      assert.deepEqual(await apiQueue(i, queue), { status: 200, node: nodeName(B) }, `node ${i}`);
      // rabbitmqctl has no node column: a classic queue's pid names its node.
      const listed = await warrenctl(c.nodes[i]!.mgmtUrl, ["list_queues", "name", "pid"]);
      assert.equal(listed.exitCode, 0, listed.stderr);
      const row = listed.stdout.split("\n").find((l) => l.startsWith(`${queue}\t`));
      assert.ok(
        row?.startsWith(`${queue}\t<${nodeName(B)}.`),
        `list_queues name pid on node ${i}: ${row}`,
      );
    }
    const home = await on(B);
    // The last acks travel to the home on their own: wait for them, bounded.
    await eventually(
      "nothing left at the home",
      async () => ((await passiveCount(home, queue)) === 0 ? true : undefined),
      5_000,
    );
  });

  test("pika: 200 persistent messages published with confirms on A are consumed on C from a queue homed on B, once, in order, within prefetch 10", async () => {
    const queue = await durableQueueOn(B, "cq-pika");
    const published = await runPythonScenario<{ published: number; nacked: number }>(
      "cluster_pika_scenarios.py",
      "publish",
      c.url(A),
      [queue, "200"],
      60_000,
    );
    assert.deepEqual(published, { published: 200, nacked: 0 });
    const consumed = await runPythonScenario<{
      bodies: string[];
      redelivered: number;
      maxOutstanding: number;
      left: number;
    }>("cluster_pika_scenarios.py", "consume", c.url(C), [queue, "200", "10"], 60_000);
    assertBodies(consumed.bodies, range(200), "each message once, in the order published");
    assert.equal(consumed.redelivered, 0);
    assert.ok(consumed.maxOutstanding <= 10, `saw ${consumed.maxOutstanding} unacked`);
    assert.equal(consumed.left, 0);
  });

  test("a confirmed publish on A through a fanout exchange reaches queues homed on B and on C", async () => {
    const onB = await durableQueueOn(B, "cq-fan-b");
    const onC = await durableQueueOn(C, "cq-fan-c");
    const exchange = uniqueName("cq-fan");
    const a = await on(A);
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
      const home = await on(i);
      assert.equal(await passiveCount(home, queue), 20, `at ${nodeName(i)}, its home`);
      const { got } = await consumeWindowed(home, queue, 20, 10);
      assertBodies(
        got.map((d) => d.body),
        range(20, "f"),
        `${queue} on ${nodeName(i)}`,
      );
    }
  });

  test("basic.get on C from a queue homed on B: ack removes, nack(requeue) returns it redelivered", async () => {
    const queue = await durableQueueOn(B, "cq-get");
    await publishConfirmed(A, queue, range(3, "g"));
    const conn = await on(C);
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
    const home = await on(B);
    await eventually(
      "the acks to reach the home",
      async () => ((await passiveCount(home, queue)) === 0 ? true : undefined),
      5_000,
    );
  });

  test("a nack(requeue) and a channel closed with unacked messages on C return them to the home, redelivered", async () => {
    const queue = await durableQueueOn(B, "cq-requeue");
    await publishConfirmed(A, queue, range(5, "r"));
    const conn = await on(C);
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
    const homeConn = await on(B);
    await eventually(
      "both back at the home",
      async () => ((await passiveCount(homeConn, queue)) === 5 ? true : undefined),
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
    const queue = await durableQueueOn(B, "cq-count");
    await publishConfirmed(B, queue, range(7, "n"));
    const onC = await on(C);
    assert.equal(await passiveCount(onC, queue), 7, "passive declare on C");
    const ch = await channel(onC);
    assert.equal((await ch.assertQueue(queue, { durable: true })).messageCount, 7, "redeclare");
    // Two taken and not acked: the ready count is 5 everywhere.
    await get(ch, queue);
    await get(ch, queue);
    assert.equal(await passiveCount(await on(A), queue), 5, "passive declare on A");
    assert.equal(await passiveCount(onC, queue), 5, "passive declare on C");
    assert.equal(await passiveCount(await on(B), queue), 5, "passive declare on the home");
  });

  test("an exclusive queue lives on its connection's node A, and is gone on every node when that connection closes", async () => {
    const owner = await on(A);
    const ch = await channel(owner);
    const { queue } = await ch.assertQueue("", { exclusive: true });
    ch.sendToQueue(queue, Buffer.from("mine"));
    const m = await get(ch, queue);
    assert.equal(m.content.toString(), "mine");
    ch.ack(m);
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await eventually(`node ${i} to list ${queue}`, async () => {
          const r = await apiQueue(i, queue);
          return r.status === 200 ? r.node : undefined;
        }),
        nodeName(A),
        `its home on node ${i}'s API`,
      );
    }
    await owner.close();
    for (let i = 0; i < 3; i++) {
      await eventually(`${queue} gone from node ${i}'s API`, async () =>
        (await apiQueue(i, queue)).status === 404 ? true : undefined,
      );
      const other = await on(i);
      const err = await channelError(other, (x) => x.checkQueue(queue));
      assert.equal(err.code, 404, `passive declare on node ${i}: ${err.message}`);
    }
  });

  // The home redials a returning node with backoff (jittered, up to 5 s): the restarted node
  // must not answer 404 "home node ... is down" for a home that is up while that redial
  // waits. Whether a round hits that wait depends on the jitter, hence three down times.
  test("a restarted node serves a queue homed on another node as soon as it serves clients", async () => {
    const queue = await durableQueueOn(B, "cq-back");
    await publishConfirmed(B, queue, range(3, "b"));
    const failures: string[] = [];
    for (const downMs of [2_000, 5_000, 8_000]) {
      await c.stop(C);
      await sleep(downMs);
      await c.start(C);
      await c.serving(C, 60_000);
      const conn = await on(C);
      const ch = await channel(conn);
      await ch.checkQueue(queue).then(
        (ok) => {
          if (ok.messageCount !== 3) failures.push(`down ${downMs} ms: ${ok.messageCount} ready`);
        },
        (e: Error) => failures.push(`down ${downMs} ms: ${e.message}`),
      );
      await conn.close().catch(() => {});
    }
    assert.deepEqual(failures, [], "passive declares on C right after it served again");
  });

  // RabbitMQ deletes a lost node's exclusive and transient queues (their connections and
  // messages are gone with it); its durable queues wait for it.
  test("when C is killed its exclusive and non-durable queues are deleted on every node, its durable queue waits for it", async () => {
    const conn = await on(C);
    const ch = await channel(conn);
    const { queue: exclusive } = await ch.assertQueue("", { exclusive: true });
    const transient = uniqueName("cq-transient");
    await ch.assertQueue(transient, { durable: false });
    const durable = await durableQueueOn(C, "cq-kept");
    const a = await on(A);
    await eventually("A to know the queues of C", async () =>
      (await passiveCount(a, transient)) === 0 && (await apiQueue(A, exclusive)).status === 200
        ? true
        : undefined,
    );
    const killedAtMs = Date.now();
    await c.kill(C);
    for (const queue of [exclusive, transient]) {
      await eventually(
        `${queue} deleted on A and B`,
        async () =>
          (await apiQueue(A, queue)).status === 404 && (await apiQueue(B, queue)).status === 404
            ? true
            : undefined,
        40_000,
      );
    }
    const goneAfterMs = Date.now() - killedAtMs;
    const err = await channelError(a, (x) => x.checkQueue(durable), "passive declare of the kept");
    assert.ok(err.message.includes(homeDownText(nodeName(C), durable)), err.message);
    await c.start(C);
    await c.serving(C, 60_000);
    const back = await on(C);
    assert.equal(await passiveCount(back, durable), 0, "the durable queue is back");
    for (const queue of [exclusive, transient]) {
      assert.equal((await apiQueue(C, queue)).status, 404, `${queue} stays deleted on C`);
    }
    assert.ok(goneAfterMs < 40_000, `deleted ${goneAfterMs} ms after the kill`);
  });

  for (const how of ["SIGTERM", "kill -9"] as const) {
    test(`home down (${how}): on A the queue answers 404 with RabbitMQ's text, a consumer on C gets basic.cancel, a publish is nacked; back with its messages when the home returns`, async () => {
      const queue = await durableQueueOn(B, `cq-down-${how === "SIGTERM" ? "term" : "kill"}`);
      await publishConfirmed(A, queue, range(5, "d"));
      // A consumer on C holds d0 unacked when the home goes.
      const consumerConn = await on(C);
      const cch = await channel(consumerConn);
      await cch.prefetch(1);
      let cancelled!: () => void;
      const cancel = new Promise<void>((r) => {
        cancelled = r;
      });
      const first = new Promise<string>((resolve) => {
        void cch.consume(queue, (m) => {
          if (m === null) cancelled();
          else resolve(m.content.toString());
        });
      });
      assert.equal(await withTimeout(first, 10_000, "the first delivery on C"), "d0");

      const homeName = nodeName(B);
      if (how === "SIGTERM") await c.stop(B);
      else await c.kill(B);
      await withTimeout(cancel, 15_000, "basic.cancel to the consumer on C");

      const a = await on(A);
      const expected = homeDownText(homeName, queue);
      const passive = await eventually("the passive declare on A to answer 404", async () => {
        const err = await channelError(a, (ch) => ch.checkQueue(queue), "passive declare on A");
        return err.code === 404 ? err : undefined;
      });
      assert.ok(passive.message.includes(expected), passive.message);
      for (const [what, op] of [
        ["declare", (ch: Channel) => ch.assertQueue(queue, { durable: true })],
        ["basic.get", (ch: Channel) => ch.get(queue)],
      ] as const) {
        const err = await channelError(a, op, `${what} on A while the home is down`);
        assert.equal(err.code, 404, `${what}: ${err.message}`);
        assert.ok(err.message.includes(expected), `${what}: ${err.message}`);
      }
      const consume = await refusedConsume(a, queue);
      assert.equal(consume.code, 404, `basic.consume: ${consume.message}`);
      assert.ok(consume.message.includes(expected), `basic.consume: ${consume.message}`);
      // A publish routed to it is nacked (the home cannot take it).
      const pch = await a.createConfirmChannel();
      pch.on("error", () => {});
      const outcome = await withTimeout(
        new Promise<string>((resolve) => {
          pch.sendToQueue(queue, Buffer.from("while-down"), { persistent: true }, (err) =>
            resolve(err ? "nacked" : "acked"),
          );
        }),
        15_000,
        "the confirm of a publish to a queue whose home is down",
      );
      assert.equal(outcome, "nacked");

      await c.start(B);
      await c.serving(B, 60_000);
      const back = await eventually("the queue on A with its 5 messages", async () => {
        const n = await passiveCount(a, queue);
        return n === 5 ? n : undefined;
      });
      assert.equal(back, 5);
      const { got } = await consumeWindowed(a, queue, 5, 10);
      assertBodies(
        got.map((d) => d.body),
        range(5, "d"),
        "the messages kept by the home",
      );
      // C's channel still holds the delivery of d0 from before the home went: closing it
      // now must not give the home back a stale message.
      await consumerConn.close().catch(() => {});
      await sleep(500);
      assert.equal(await passiveCount(a, queue), 0, "nothing came back after C closed");
      // Checked last, so that the rest of the story is checked whatever this says.
      assert.equal(
        consume.consumeOk,
        false,
        "basic.consume on A while the home was down got basic.consume-ok before its 404",
      );
    });
  }
});
