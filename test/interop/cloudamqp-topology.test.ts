import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AMQPChannel, AMQPClient, AMQPMessage } from "@cloudamqp/amqp-client";
import { uniqueName, withTimeout } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { connectCloudAmqp, rejectsWithReply } from "../support/cloudamqp-helpers.js";

// Exchanges, bindings and queue declaration rules with @cloudamqp/amqp-client.

let broker: BrokerUnderTest;
let client: AMQPClient;

before(async () => {
  broker = await startBroker();
  client = await connectCloudAmqp(broker.url);
});

after(async () => {
  await client?.close().catch(() => {});
  await broker?.stop();
});

/** An exclusive queue of this connection that outlives its consumers. */
async function queue(ch: AMQPChannel): Promise<string> {
  return (await ch.queueDeclare("", { exclusive: true, autoDelete: false })).name;
}

/** An auto-delete exchange with a unique name. */
async function exchange(ch: AMQPChannel, type: string, args = {}): Promise<string> {
  const name = uniqueName(type);
  await ch.exchangeDeclare(name, type, { durable: false, autoDelete: true }, args);
  return name;
}

/** Publishes one message and returns the labels of the queues that received it. */
async function routes(
  ch: AMQPChannel,
  queues: Record<string, string>,
  publish: () => Promise<unknown>,
): Promise<string[]> {
  await publish();
  const hit: string[] = [];
  for (const [label, q] of Object.entries(queues)) {
    if (await ch.basicGet(q, { noAck: true })) hit.push(label);
  }
  return hit;
}

describe("exchange types route as RabbitMQ's", () => {
  test("a direct exchange routes on the exact routing key", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "direct");
    const [red, blue] = [await queue(ch), await queue(ch)];
    await ch.queueBind(red, x, "red");
    await ch.queueBind(blue, x, "blue");
    await ch.queueBind(blue, x, "all");
    await ch.queueBind(red, x, "all");
    const qs = { red, blue };
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(x, "red", "m")), ["red"]);
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(x, "all", "m")), ["red", "blue"]);
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(x, "Red", "m")), []);
    await ch.close();
  });

  test("a fanout exchange copies each message to every bound queue whatever the key", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "fanout");
    const qs = { a: await queue(ch), b: await queue(ch) };
    await ch.queueBind(qs.a, x, "ignored");
    await ch.queueBind(qs.b, x, "");
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(x, "any.key", "m")), ["a", "b"]);
    await ch.close();
  });

  test("a topic exchange matches * as one word and # as zero or more words", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "topic");
    const patterns = ["#", "*", "a.#", "#.a", "a.*", "a.*.b", "a.#.b", "*.*"];
    const qs: Record<string, string> = {};
    for (const p of patterns) {
      qs[p] = await queue(ch);
      await ch.queueBind(qs[p]!, x, p);
    }
    // Expected matches from RabbitMQ 3.10.8 (rabbitmq-reference.md §4, topic matching).
    const expected: Record<string, string[]> = {
      "": ["#"],
      a: ["#", "*", "a.#", "#.a"],
      "a.b": ["#", "a.#", "a.*", "a.#.b", "*.*"],
      "a.x.b": ["#", "a.#", "a.*.b", "a.#.b"],
      "a.x.y.b": ["#", "a.#", "a.#.b"],
      "b.a": ["#", "#.a", "*.*"],
      "x.y.a": ["#", "#.a"],
      "a..b": ["#", "a.#", "a.*.b", "a.#.b"],
      ab: ["#", "*"],
    };
    for (const [key, want] of Object.entries(expected)) {
      const got = await routes(ch, qs, () => ch.basicPublish(x, key, "m"));
      assert.deepEqual(got.sort(), [...want].sort(), `routing key '${key}'`);
    }
    await ch.close();
  });

  test("a headers exchange matches all or any of the binding's headers", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "headers");
    const qs = { all: await queue(ch), any: await queue(ch), dflt: await queue(ch) };
    await ch.queueBind(qs.all, x, "", { "x-match": "all", format: "pdf", type: "report" });
    await ch.queueBind(qs.any, x, "", { "x-match": "any", format: "pdf", type: "log" });
    await ch.queueBind(qs.dflt, x, "", { format: "pdf", type: "report" }); // all by default
    const send = (headers: Record<string, string | number>) => () =>
      ch.basicPublish(x, "ignored", "m", { headers });
    assert.deepEqual(await routes(ch, qs, send({ format: "pdf", type: "report", extra: 1 })), [
      "all",
      "any",
      "dflt",
    ]);
    assert.deepEqual(await routes(ch, qs, send({ format: "pdf" })), ["any"]);
    assert.deepEqual(await routes(ch, qs, send({ type: "log" })), ["any"]);
    assert.deepEqual(await routes(ch, qs, send({ format: "zip", type: "other" })), []);
    await ch.close();
  });

  test("headers x-match all with no other keys matches everything; any with none matches nothing", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "headers");
    const qs = { all: await queue(ch), any: await queue(ch) };
    await ch.queueBind(qs.all, x, "", { "x-match": "all" });
    await ch.queueBind(qs.any, x, "", { "x-match": "any" });
    assert.deepEqual(
      await routes(ch, qs, () => ch.basicPublish(x, "", "m", { headers: { a: "b" } })),
      ["all"],
    );
    await ch.close();
  });
});

describe("exchange-to-exchange bindings and alternate exchanges", () => {
  test("an exchange bound to another receives what the binding matches, until unbound", async () => {
    const ch = await client.channel();
    // Not auto-delete: removing its only binding would delete the source (RabbitMQ rule).
    const source = uniqueName("source");
    await ch.exchangeDeclare(source, "topic", { durable: false, autoDelete: false });
    const dest = await exchange(ch, "fanout");
    const q = await queue(ch);
    await ch.queueBind(q, dest, "");
    await ch.exchangeBind(dest, source, "orders.*");
    const qs = { q };
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(source, "orders.new", "m")), ["q"]);
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(source, "users.new", "m")), []);
    await ch.exchangeUnbind(dest, source, "orders.*");
    assert.deepEqual(await routes(ch, qs, () => ch.basicPublish(source, "orders.new", "m")), []);
    await ch.exchangeDelete(source);
    await ch.close();
  });

  test("unroutable messages go to the alternate exchange, with no basic.return", async () => {
    const ch = await client.channel();
    const ae = await exchange(ch, "fanout");
    const main = await exchange(ch, "direct", { "alternate-exchange": ae });
    const qs = { routed: await queue(ch), unrouted: await queue(ch) };
    await ch.queueBind(qs.routed, main, "known");
    await ch.queueBind(qs.unrouted, ae, "");
    const returned: AMQPMessage[] = [];
    ch.onReturn = (m) => returned.push(m);
    const pub = (key: string) => () => ch.basicPublish(main, key, "m", {}, true);
    assert.deepEqual(await routes(ch, qs, pub("known")), ["routed"]);
    assert.deepEqual(await routes(ch, qs, pub("unknown")), ["unrouted"]);
    assert.deepEqual(returned, []);
    await ch.close();
  });

  test("when the alternate exchange routes nowhere, the return quotes the original exchange", async () => {
    const ch = await client.channel();
    const ae = await exchange(ch, "fanout");
    const main = await exchange(ch, "direct", { "alternate-exchange": ae });
    const returned = new Promise<AMQPMessage>((resolve) => {
      ch.onReturn = resolve;
    });
    await ch.basicPublish(main, "nowhere", "lost", {}, true);
    const r = await withTimeout(returned, 3000, "basic.return");
    assert.deepEqual(
      [r.replyCode, r.replyText, r.exchange, r.routingKey, r.bodyToString()],
      [312, "NO_ROUTE", main, "nowhere", "lost"],
    );
    await ch.close();
  });
});

describe("queue declaration rules", () => {
  test("a server-named queue gets an amq.gen- name and is reachable by it", async () => {
    const ch = await client.channel();
    const ok = await ch.queueDeclare("", { exclusive: true });
    assert.match(ok.name, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
    assert.deepEqual([ok.messageCount, ok.consumerCount], [0, 0]);
    await ch.basicPublish("", ok.name, "hi");
    assert.equal((await ch.basicGet(ok.name, { noAck: true }))?.bodyToString(), "hi");
    await ch.close();
  });

  test("another connection's exclusive queue is locked: declare, get and consume give 405", async () => {
    const owner = await client.channel();
    const q = uniqueName("exclusive");
    await owner.queueDeclare(q, { exclusive: true, autoDelete: false });
    const locked = new RegExp(
      `^channel \\d+ closed: RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'\\. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration\\.`,
    );
    const other = await connectCloudAmqp(broker.url);
    try {
      await rejectsWithReply(
        (await other.channel()).queueDeclare(q, { passive: true }),
        405,
        locked,
      );
      await rejectsWithReply((await other.channel()).basicGet(q), 405, locked);
      await rejectsWithReply(
        (await other.channel()).basicConsume(q, {}, () => {}),
        405,
        locked,
      );
      assert.equal(other.closed, false, "405 closes the channel, not the connection");
    } finally {
      await other.close();
    }
    await owner.close();
  });

  test("redeclaring a queue with another durable flag is 406 naming both values", async () => {
    const ch = await client.channel();
    const q = uniqueName("durable");
    await ch.queueDeclare(q, { durable: false, autoDelete: false, exclusive: false });
    try {
      await rejectsWithReply(
        (await client.channel()).queueDeclare(q, { durable: true, autoDelete: false }),
        406,
        new RegExp(
          `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
        ),
      );
    } finally {
      await ch.queueDelete(q);
      await ch.close();
    }
  });

  test("an exclusive queue is never durable, so a durable redeclaration of it is equivalent", async () => {
    const ch = await client.channel();
    const q = uniqueName("excldurable");
    await ch.queueDeclare(q, { durable: true, autoDelete: false, exclusive: true });
    const again = await ch.queueDeclare(q, { durable: false, autoDelete: false, exclusive: true });
    assert.equal(again.name, q);
    await ch.close();
  });

  test("redeclaring a queue with another x-message-ttl is 406 naming both values", async () => {
    const ch = await client.channel();
    const q = uniqueName("ttl");
    const flags = { durable: false, autoDelete: false, exclusive: true };
    await ch.queueDeclare(q, flags, { "x-message-ttl": 1000 });
    await rejectsWithReply(
      ch.queueDeclare(q, flags, { "x-message-ttl": 2000 }),
      406,
      new RegExp(
        `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '/': received '2000' but current is '1000'`,
      ),
    );
  });

  test("redeclaring a queue without its exclusive flag is 405 RESOURCE_LOCKED", async () => {
    const ch = await client.channel();
    const q = uniqueName("exclflag");
    await ch.queueDeclare(q, { durable: false, autoDelete: false, exclusive: true });
    await rejectsWithReply(
      ch.queueDeclare(q, { durable: false, autoDelete: false, exclusive: false }),
      405,
      /RESOURCE_LOCKED - cannot obtain exclusive access to locked queue/,
    );
  });

  test("redeclaring an exchange with another type is 406 naming both types", async () => {
    const ch = await client.channel();
    const x = await exchange(ch, "direct");
    await rejectsWithReply(
      ch.exchangeDeclare(x, "fanout", { durable: false, autoDelete: true }),
      406,
      new RegExp(
        `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '/': received 'fanout' but current is 'direct'`,
      ),
    );
  });
});
