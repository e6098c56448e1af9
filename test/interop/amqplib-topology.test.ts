import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type Channel,
  type Connection,
  channelClosed,
  connect,
  rejectsWith,
  sleep,
  take,
  uniqueName,
  withTimeout,
} from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";

let broker: BrokerUnderTest;
let conn: Connection;

before(async () => {
  broker = await startBroker();
  conn = await connect(broker.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  await broker?.stop();
});

/** A fresh channel whose errors do not crash the test process. */
async function channel(): Promise<Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return ch;
}

/** Publishes one message and reports the names of the queues (among `queues`) that got it. */
async function routedTo(ch: Channel, queues: string[], publish: () => void): Promise<string[]> {
  publish();
  await sleep(50);
  const hit: string[] = [];
  for (const q of queues) {
    const m = await ch.get(q, { noAck: true });
    if (m) hit.push(q);
  }
  return hit;
}

describe("exchange types", () => {
  test("direct, fanout, topic and headers exchanges route as RabbitMQ's", async () => {
    const ch = await channel();
    const qa = (await ch.assertQueue("", { exclusive: true })).queue;
    const qb = (await ch.assertQueue("", { exclusive: true })).queue;
    const topic = uniqueName("topic");
    await ch.assertExchange(topic, "topic", { autoDelete: true });
    await ch.bindQueue(qa, topic, "stock.*.nyse");
    await ch.bindQueue(qb, topic, "stock.#");
    assert.deepEqual(
      await routedTo(ch, [qa, qb], () => ch.publish(topic, "stock.ibm.nyse", Buffer.from("1"))),
      [qa, qb],
    );
    assert.deepEqual(
      await routedTo(ch, [qa, qb], () => ch.publish(topic, "stock", Buffer.from("2"))),
      [qb],
    );
    assert.deepEqual(
      await routedTo(ch, [qa, qb], () => ch.publish(topic, "bond.x", Buffer.from("3"))),
      [],
    );

    const headers = uniqueName("hdr");
    await ch.assertExchange(headers, "headers", { autoDelete: true });
    await ch.bindQueue(qa, headers, "", { "x-match": "all", format: "pdf", type: "report" });
    await ch.bindQueue(qb, headers, "", { "x-match": "any", format: "pdf", type: "log" });
    const pub = (h: Record<string, unknown>) => () =>
      ch.publish(headers, "", Buffer.from("h"), { headers: h });
    assert.deepEqual(await routedTo(ch, [qa, qb], pub({ format: "pdf", type: "report" })), [
      qa,
      qb,
    ]);
    assert.deepEqual(await routedTo(ch, [qa, qb], pub({ type: "log" })), [qb]);
    assert.deepEqual(await routedTo(ch, [qa, qb], pub({ format: "zip" })), []);

    const fan = uniqueName("fan");
    await ch.assertExchange(fan, "fanout", { autoDelete: true });
    await ch.bindQueue(qa, fan, "ignored");
    await ch.bindQueue(qb, fan, "");
    assert.deepEqual(
      await routedTo(ch, [qa, qb], () => ch.publish(fan, "anything", Buffer.from("f"))),
      [qa, qb],
    );
    await ch.close();
  });

  test("exchange-to-exchange bindings carry messages on, and cycles end", async () => {
    const ch = await channel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    const front = uniqueName("front");
    const back = uniqueName("back");
    await ch.assertExchange(front, "topic", { autoDelete: true });
    await ch.assertExchange(back, "direct", { autoDelete: true });
    await ch.bindExchange(back, front, "orders.#");
    await ch.bindExchange(front, back, "loop"); // a cycle
    await ch.bindQueue(q, back, "orders.new");
    ch.publish(front, "orders.new", Buffer.from("o1"));
    const [m] = await take(ch, q, 1, { noAck: true });
    assert.equal(m!.content.toString(), "o1");
    assert.equal(m!.fields.exchange, front, "delivered with the exchange it was published to");
    await ch.close();
  });

  test("an alternate exchange receives what the exchange cannot route, and no return is sent", async () => {
    const ch = await channel();
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    const ae = uniqueName("ae");
    const main = uniqueName("main");
    await ch.assertExchange(ae, "fanout", { autoDelete: true });
    await ch.assertExchange(main, "direct", { autoDelete: true, alternateExchange: ae });
    await ch.bindQueue(q, ae, "");
    let returned = false;
    ch.on("return", () => {
      returned = true;
    });
    ch.publish(main, "no-such-key", Buffer.from("caught"), { mandatory: true });
    const [m] = await take(ch, q, 1, { noAck: true });
    assert.equal(m!.content.toString(), "caught");
    await sleep(50);
    assert.equal(returned, false);
    await ch.close();
  });

  test("CC and BCC headers add routing keys and BCC is removed before delivery", async () => {
    const ch = await channel();
    const qa = (await ch.assertQueue("", { exclusive: true })).queue;
    const qb = (await ch.assertQueue("", { exclusive: true })).queue;
    const qc = (await ch.assertQueue("", { exclusive: true })).queue;
    ch.publish("", qa, Buffer.from("cc"), { headers: { CC: [qb], BCC: [qc] } });
    const [a] = await take(ch, qa, 1, { noAck: true });
    const [c] = await take(ch, qc, 1, { noAck: true });
    await take(ch, qb, 1, { noAck: true });
    assert.deepEqual(a!.properties.headers, { CC: [qb] });
    assert.equal(c!.fields.routingKey, qa, "the routing key stays the original one");
    await ch.close();
  });
});

describe("declaration rules and their errors", () => {
  test("server-named queues look like RabbitMQ's amq.gen- names", async () => {
    const ch = await channel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    assert.match(queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
    await ch.close();
  });

  test("redeclaring a queue with another durable flag is 406 with RabbitMQ's text", async () => {
    const name = uniqueName("eq");
    const ch = await channel();
    await ch.assertQueue(name, { durable: false, autoDelete: true });
    const bad = await channel();
    await rejectsWith(
      bad.assertQueue(name, { durable: true, autoDelete: true }),
      406,
      new RegExp(
        `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${name}' in vhost '/': received 'true' but current is 'false'`,
      ),
    );
    await ch.deleteQueue(name);
    await ch.close();
  });

  test("redeclaring a queue with another x-message-ttl is 406 naming both values", async () => {
    const name = uniqueName("eqt");
    const ch = await channel();
    await ch.assertQueue(name, { autoDelete: true, arguments: { "x-message-ttl": 1000 } });
    const bad = await channel();
    await rejectsWith(
      bad.assertQueue(name, { autoDelete: true, arguments: { "x-message-ttl": 2000 } }),
      406,
      /inequivalent arg 'x-message-ttl' for queue '.*' in vhost '\/': received '2000' but current is '1000'/,
    );
    await ch.deleteQueue(name);
    await ch.close();
  });

  test("redeclaring an exchange with another type is 406", async () => {
    const name = uniqueName("ex");
    const ch = await channel();
    await ch.assertExchange(name, "direct", { autoDelete: true });
    const bad = await channel();
    await rejectsWith(
      bad.assertExchange(name, "fanout", { autoDelete: true }),
      406,
      new RegExp(
        `inequivalent arg 'type' for exchange '${name}' in vhost '/': received 'fanout' but current is 'direct'`,
      ),
    );
    await ch.deleteExchange(name);
    await ch.close();
  });

  test("an unknown exchange type is refused with 406 on the channel", async () => {
    // Its own connection: RabbitMQ before 3.12 closes the connection here (503), and the
    // file's shared connection must outlive this test when the suite runs against it.
    const own = await connect(broker.url);
    own.on("error", () => {});
    try {
      const ch = await own.createChannel();
      ch.on("error", () => {});
      await rejectsWith(
        ch.assertExchange(uniqueName("x"), "no-such-type"),
        406,
        /unknown exchange type 'no-such-type'/,
      );
    } finally {
      await own.close().catch(() => {});
    }
  });

  test("names starting with amq. are reserved (403)", async () => {
    const ch = await channel();
    await rejectsWith(
      ch.assertExchange("amq.mine", "direct"),
      403,
      /exchange name 'amq.mine' contains reserved prefix 'amq.\*'/,
    );
    const ch2 = await channel();
    await rejectsWith(
      ch2.assertQueue("amq.mine"),
      403,
      /queue name 'amq.mine' contains reserved prefix 'amq.\*'/,
    );
    const ch3 = await channel();
    await rejectsWith(
      ch3.deleteExchange("amq.direct"),
      403,
      /deletion of system exchange 'amq.direct' in vhost '\/' not allowed/,
    );
  });

  test("the default exchange cannot be bound to (403)", async () => {
    const ch = await channel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await rejectsWith(
      ch.bindQueue(queue, "", "k"),
      403,
      /operation not permitted on the default exchange/,
    );
  });

  test("another connection's exclusive queue is locked (405)", async () => {
    const ch = await channel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    const other = await connect(broker.url);
    const och = await other.createChannel();
    och.on("error", () => {});
    await rejectsWith(
      och.checkQueue(queue),
      405,
      /RESOURCE_LOCKED - cannot obtain exclusive access to locked queue/,
    );
    await other.close();
    await ch.close();
  });

  test("delete if-unused and if-empty refuse with 406", async () => {
    const name = uniqueName("del");
    const ch = await channel();
    await ch.assertQueue(name);
    ch.sendToQueue(name, Buffer.from("x"));
    await ch.checkQueue(name);
    await rejectsWith(
      ch.deleteQueue(name, { ifEmpty: true }),
      406,
      new RegExp(`queue '${name}' in vhost '/' not empty`),
    );
    const ch2 = await channel();
    await ch2.consume(name, () => {});
    const ch3 = await channel();
    await rejectsWith(
      ch3.deleteQueue(name, { ifUnused: true }),
      406,
      new RegExp(`queue '${name}' in vhost '/' in use`),
    );
    const ch4 = await channel();
    // The consumer holds the message unacknowledged; delete-ok counts ready messages only.
    assert.deepEqual(await ch4.deleteQueue(name), { messageCount: 0 });
    await ch4.close();
  });

  test("an exclusive consumer keeps others out (403 in exclusive use)", async () => {
    const ch = await channel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.consume(queue, () => {}, { exclusive: true });
    const ch2 = await channel();
    await rejectsWith(
      ch2.consume(queue, () => {}),
      403,
      /in exclusive use/,
    );
    await ch.close();
  });
});

describe("lifetimes", () => {
  test("an exclusive queue goes away with its connection", async () => {
    const owner = await connect(broker.url);
    const och = await owner.createChannel();
    const { queue } = await och.assertQueue("", { exclusive: true });
    await owner.close();
    const ch = await channel();
    await rejectsWith(ch.checkQueue(queue), 404);
  });

  test("an auto-delete queue is deleted when its last consumer cancels, not before it had one", async () => {
    const name = uniqueName("ad");
    const ch = await channel();
    await ch.assertQueue(name, { autoDelete: true });
    await sleep(50);
    await ch.checkQueue(name); // never consumed: still there
    const { consumerTag } = await ch.consume(name, () => {});
    await ch.cancel(consumerTag);
    await sleep(50);
    const ch2 = await channel();
    await rejectsWith(ch2.checkQueue(name), 404);
    await ch.close();
  });

  test("an auto-delete exchange is deleted when its last binding goes", async () => {
    const ch = await channel();
    const name = uniqueName("adx");
    await ch.assertExchange(name, "fanout", { autoDelete: true });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, name, "");
    await ch.unbindQueue(queue, name, "");
    const ch2 = await channel();
    await rejectsWith(ch2.checkExchange(name), 404);
    await ch.close();
  });
});

describe("connection handshake", () => {
  test("connection.start announces RabbitMQ's capabilities", async () => {
    const props = (conn as unknown as { connection: { serverProperties: Record<string, unknown> } })
      .connection.serverProperties;
    const caps = props.capabilities as Record<string, boolean>;
    for (const c of [
      "publisher_confirms",
      "exchange_exchange_bindings",
      "basic.nack",
      "consumer_cancel_notify",
      "connection.blocked",
      "consumer_priorities",
      "authentication_failure_close",
      "per_consumer_qos",
      "direct_reply_to",
    ]) {
      assert.equal(caps[c], true, c);
    }
    if (broker.isWarren) assert.equal(props.product, "Warren");
  });

  test("a wrong password is refused with 403 ACCESS_REFUSED", async () => {
    const url = broker.url.replace("guest:guest", "guest:wrong");
    await assert.rejects(
      connect(url),
      /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
    );
  });

  test("an unknown vhost is refused with connection.close 530 NOT_ALLOWED", async () => {
    // amqplib reports only that a close came instead of open-ok; the broker log has the text.
    await assert.rejects(connect(`${broker.url}/no-such-vhost`), /ConnectionClose/);
    if (broker.isWarren) {
      await broker.waitForLog(
        (l) => String(l.msg).includes("NOT_ALLOWED - vhost no-such-vhost not found"),
        3000,
      );
    }
  });

  test("direct reply-to answers an RPC without a reply queue", async () => {
    const server = await channel();
    const rpcQueue = (await server.assertQueue("", { exclusive: true })).queue;
    await server.consume(rpcQueue, (m) => {
      if (!m) return;
      server.sendToQueue(m.properties.replyTo, Buffer.from(`re:${m.content}`), {
        correlationId: m.properties.correlationId,
      });
      server.ack(m);
    });
    const client = await channel();
    const reply = new Promise<{ body: string; corr: string }>((resolve) => {
      void client.consume(
        "amq.rabbitmq.reply-to",
        (m) => {
          if (m) resolve({ body: m.content.toString(), corr: m.properties.correlationId });
        },
        { noAck: true },
      );
    });
    await sleep(20);
    client.sendToQueue(rpcQueue, Buffer.from("ping"), {
      replyTo: "amq.rabbitmq.reply-to",
      correlationId: "c1",
    });
    assert.deepEqual(await withTimeout(reply, 3000, "rpc reply"), { body: "re:ping", corr: "c1" });
    await client.close();
    await server.close();
  });

  test("publishing with reply-to amq.rabbitmq.reply-to without consuming it is 406", async () => {
    const ch = await channel();
    const closed = channelClosed(ch);
    ch.sendToQueue("whatever", Buffer.from("x"), { replyTo: "amq.rabbitmq.reply-to" });
    const err = await closed;
    assert.equal(err.code, 406);
    assert.match(err.message, /fast reply consumer does not exist/);
  });
});
