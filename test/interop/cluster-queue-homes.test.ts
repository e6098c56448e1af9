/**
 * Classic queues live on their home node and are reached from every node (issue 16 item 4):
 * real Warren processes, real amqplib clients. Publish on one node to a queue homed on
 * another, consume on a third, with prefetch and acks across nodes; basic.get, purge and
 * declare-ok's counts from a node that is not the home; the home down answers 404 in
 * RabbitMQ's words and cancels the consumers of other nodes, and its messages are back
 * when it returns.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

let cluster: TestCluster;

before(async () => {
  if (skip) return;
  cluster = await TestCluster.create(3);
  await cluster.startAll();
  await cluster.allServing();
});

after(async () => {
  await cluster?.stopAll();
});

/** Declares a durable queue on node `i` (its home) and waits until every node has it. */
async function declareOn(i: number, queue: string): Promise<void> {
  const conn = await amqp.connect(cluster.url(i));
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { durable: true });
  await conn.close();
  for (let n = 0; n < 3; n++) {
    await eventually(`queue ${queue} on node ${n}`, async () => {
      const r = await api(cluster.nodes[n]!.mgmtUrl, "GET", `/api/queues/%2F/${queue}`);
      return r.status === 200;
    });
  }
}

test("a message published on one node reaches a consumer on another through the queue's home", {
  skip,
  timeout: 90_000,
}, async () => {
  await declareOn(1, "homed-on-b");
  // Every node names node 2 (index 1) as the home.
  for (let n = 0; n < 3; n++) {
    const r = await api(cluster.nodes[n]!.mgmtUrl, "GET", "/api/queues/%2F/homed-on-b");
    assert.equal((r.body as { node: string }).node, cluster.nodes[1]!.spec.name);
  }
  const pub = await amqp.connect(cluster.url(0));
  const pch = await pub.createConfirmChannel();
  const total = 1_000;
  for (let i = 0; i < total; i++) {
    pch.sendToQueue("homed-on-b", Buffer.from(String(i)), { persistent: true });
  }
  await pch.waitForConfirms();
  await pub.close();

  const sub = await amqp.connect(cluster.url(2));
  const sch = await sub.createChannel();
  await sch.prefetch(10);
  const seen: number[] = [];
  let unacked = 0;
  let acked = 0;
  let maxUnacked = 0;
  const done = new Promise<void>((resolve) => {
    void sch.consume("homed-on-b", (m) => {
      if (!m) return;
      unacked++;
      maxUnacked = Math.max(maxUnacked, unacked);
      seen.push(Number(m.content.toString()));
      setImmediate(() => {
        unacked--;
        sch.ack(m);
        if (++acked === total) resolve();
      });
    });
  });
  await done;
  assert.deepEqual(
    seen,
    Array.from({ length: total }, (_, i) => i),
  );
  assert.ok(maxUnacked <= 10, `at most the prefetch of 10 unacknowledged, saw ${maxUnacked}`);
  // The channel first: amqplib may write connection.close ahead of the channel's last acks.
  await sch.close();
  await sub.close();
  await eventually("the home to count no message", async () => {
    const r = await api(cluster.nodes[1]!.mgmtUrl, "GET", "/api/queues/%2F/homed-on-b");
    const b = r.body as { messages: number; messages_unacknowledged: number };
    return b.messages === 0 && b.messages_unacknowledged === 0;
  });
});

test("basic.get, nack and purge on a node that is not the home act on the home's queue", {
  skip,
  timeout: 60_000,
}, async () => {
  await declareOn(1, "get-from-afar");
  const conn = await amqp.connect(cluster.url(2));
  const ch = await conn.createConfirmChannel();
  for (const text of ["one", "two", "three"]) {
    ch.sendToQueue("get-from-afar", Buffer.from(text), { persistent: true });
  }
  await ch.waitForConfirms();
  const declared = await ch.checkQueue("get-from-afar");
  assert.equal(declared.messageCount, 3, "declare-ok counts the home's ready messages");
  const first = await ch.get("get-from-afar");
  assert.ok(first);
  assert.equal(first.content.toString(), "one");
  assert.equal(first.fields.redelivered, false);
  ch.nack(first, false, true);
  const again = await ch.get("get-from-afar");
  assert.ok(again);
  assert.equal(again.content.toString(), "one");
  assert.equal(again.fields.redelivered, true, "a requeued message comes back redelivered");
  ch.ack(again);
  const purged = await ch.purgeQueue("get-from-afar");
  assert.equal(purged.messageCount, 2);
  assert.equal(await ch.get("get-from-afar"), false);
  await conn.close();
});

test("a closed channel on another node gives its unacknowledged messages back to the home", {
  skip,
  timeout: 60_000,
}, async () => {
  await declareOn(0, "requeue-on-close");
  const conn = await amqp.connect(cluster.url(1));
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < 5; i++) ch.sendToQueue("requeue-on-close", Buffer.from(`m${i}`));
  await ch.waitForConfirms();
  const sub = await conn.createChannel();
  await sub.prefetch(5);
  let got = 0;
  await new Promise<void>((resolve) => {
    void sub.consume("requeue-on-close", () => {
      if (++got === 5) resolve();
    });
  });
  await sub.close();
  await eventually("the five to be ready again at the home", async () => {
    const r = await api(cluster.nodes[0]!.mgmtUrl, "GET", "/api/queues/%2F/requeue-on-close");
    return (r.body as { messages_ready: number }).messages_ready === 5;
  });
  const m = await ch.get("requeue-on-close", { noAck: true });
  assert.ok(m);
  assert.equal(m.fields.redelivered, true);
  await conn.close();
});

test("while the home is down its durable queue answers 404 on other nodes; it comes back with its messages", {
  skip,
  timeout: 120_000,
}, async () => {
  await declareOn(2, "home-goes-away");
  const pub = await amqp.connect(cluster.url(0));
  const pch = await pub.createConfirmChannel();
  for (let i = 0; i < 20; i++) {
    pch.sendToQueue("home-goes-away", Buffer.from(`m${i}`), { persistent: true });
  }
  await pch.waitForConfirms();
  await pub.close();

  // A consumer on node 2 (index 1) of the queue homed on node 3.
  const watcher = await amqp.connect(cluster.url(1));
  const wch = await watcher.createChannel();
  await wch.prefetch(1);
  let cancelled = false;
  await wch.consume("home-goes-away", (m) => {
    if (m === null) cancelled = true;
  });

  await cluster.stop(2);
  await eventually("the consumer to be cancelled", async () => cancelled);
  await watcher.close().catch(() => {});

  const conn = await amqp.connect(cluster.url(0));
  const ch = await conn.createChannel();
  const closed = new Promise<Error>((resolve) => ch.on("error", resolve));
  await assert.rejects(ch.checkQueue("home-goes-away"));
  const error = await closed;
  assert.match(
    error.message,
    new RegExp(
      `404 \\(NOT-FOUND\\) with message "NOT_FOUND - home node '${cluster.nodes[2]!.spec.name}' of durable queue 'home-goes-away' in vhost '/' is down or inaccessible"`,
    ),
  );
  await conn.close().catch(() => {});

  await cluster.start(2);
  await cluster.serving(2);
  await eventually("the queue to be reachable again", async () => {
    const c = await amqp.connect(cluster.url(0));
    try {
      const cch = await c.createChannel();
      cch.on("error", () => {});
      const ok = await cch.checkQueue("home-goes-away");
      return ok.messageCount === 20;
    } catch {
      return false;
    } finally {
      await c.close().catch(() => {});
    }
  });
});

test("an exclusive queue lives on its connection's node and goes with the connection", {
  skip,
  timeout: 60_000,
}, async () => {
  const conn = await amqp.connect(cluster.url(0));
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  const r = await api(
    cluster.nodes[0]!.mgmtUrl,
    "GET",
    `/api/queues/%2F/${encodeURIComponent(queue)}`,
  );
  assert.equal((r.body as { node: string }).node, cluster.nodes[0]!.spec.name);
  // Another node's client is refused it, as RabbitMQ refuses another connection (405).
  const other = await amqp.connect(cluster.url(1));
  const och = await other.createChannel();
  const refused = new Promise<Error>((resolve) => och.on("error", resolve));
  await eventually("the queue on node 2", async () => {
    const x = await api(
      cluster.nodes[1]!.mgmtUrl,
      "GET",
      `/api/queues/%2F/${encodeURIComponent(queue)}`,
    );
    return x.status === 200;
  });
  och.consume(queue, () => {}).catch(() => {});
  assert.match((await refused).message, /405/);
  await other.close().catch(() => {});
  await conn.close();
  for (let n = 0; n < 3; n++) {
    await eventually(`the exclusive queue gone on node ${n + 1}`, async () => {
      const x = await api(
        cluster.nodes[n]!.mgmtUrl,
        "GET",
        `/api/queues/%2F/${encodeURIComponent(queue)}`,
      );
      return x.status === 404;
    });
  }
});

test("direct reply-to answers an RPC across three nodes: request on one, server on another, queue on a third", {
  skip,
  timeout: 60_000,
}, async () => {
  await declareOn(1, "rpc-requests");
  const server = await amqp.connect(cluster.url(2));
  const sch = await server.createChannel();
  await sch.consume("rpc-requests", (m) => {
    if (!m) return;
    sch.sendToQueue(m.properties.replyTo, Buffer.from(`re: ${m.content.toString()}`), {
      correlationId: m.properties.correlationId,
    });
    sch.ack(m);
  });
  const client = await amqp.connect(cluster.url(0));
  const cch = await client.createChannel();
  const replies: string[] = [];
  const all = new Promise<void>((resolve) => {
    void cch.consume(
      "amq.rabbitmq.reply-to",
      (m) => {
        if (!m) return;
        replies.push(`${m.properties.correlationId}:${m.content.toString()}`);
        if (replies.length === 3) resolve();
      },
      { noAck: true },
    );
  });
  for (const id of ["a", "b", "c"]) {
    cch.sendToQueue("rpc-requests", Buffer.from(`call ${id}`), {
      replyTo: "amq.rabbitmq.reply-to",
      correlationId: id,
    });
  }
  await all;
  assert.deepEqual(replies.sort(), ["a:re: call a", "b:re: call b", "c:re: call c"]);
  await client.close();
  await server.close();
});
