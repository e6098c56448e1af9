import { AMQPClient } from "@cloudamqp/amqp-client";
import amqp from "amqplib";
import { Connection } from "rabbitmq-client";
import { runPythonScenario } from "../support/python-client.js";
import { runProgram } from "../support/run-program.js";

/**
 * The client sessions the fuzz corpus is recorded from: each drives a real client
 * library through a stretch of the protocol (topology, publishes with confirms and
 * properties, consumes, acks, nacks, rejects, transactions, RPC, errors the broker
 * answers with a channel close). record-corpus.ts runs them through a recording proxy.
 */
export interface CorpusScenario {
  readonly name: string;
  run(url: string): Promise<unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function amqplibTopologyAndMessages(url: string): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange("corpus.topic", "topic", {
    durable: true,
    alternateExchange: "corpus.ae",
  });
  await ch.assertExchange("corpus.ae", "fanout", { durable: false, autoDelete: true });
  await ch.assertExchange("corpus.dlx", "direct", { durable: true });
  const q = await ch.assertQueue("corpus.work", {
    durable: true,
    arguments: {
      "x-message-ttl": 60000,
      "x-dead-letter-exchange": "corpus.dlx",
      "x-max-length": 100,
      "x-delivery-limit": 3,
    },
  });
  await ch.assertQueue("corpus.dead", { durable: true });
  await ch.bindQueue("corpus.dead", "corpus.dlx", "corpus.work");
  await ch.bindQueue(q.queue, "corpus.topic", "a.*.c");
  await ch.bindExchange("amq.fanout", "corpus.topic", "#");
  for (let i = 0; i < 5; i++) {
    ch.publish("corpus.topic", "a.b.c", Buffer.from(`message ${i}`), {
      persistent: true,
      headers: { attempt: i, tags: ["x", 1, true], nested: { deep: 1.5 } },
      contentType: "text/plain",
      messageId: `m${i}`,
      expiration: "50000",
      priority: i,
      correlationId: "c",
      replyTo: "nowhere",
      timestamp: 1700000000,
    });
  }
  await ch.waitForConfirms();
  await ch.prefetch(2);
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    void ch.consume(
      q.queue,
      (m) => {
        if (!m) return;
        seen++;
        if (seen === 1) ch.nack(m, false, true);
        else if (seen === 2) ch.reject(m, false);
        else ch.ack(m);
        if (seen >= 5) resolve();
      },
      { consumerTag: "corpus-consumer", priority: 5 },
    );
  });
  await Promise.race([done, sleep(2000)]);
  await ch.cancel("corpus-consumer");
  await ch.get("corpus.dead", { noAck: false }).then((m) => m && ch.ack(m));
  await ch.checkQueue("corpus.dead");
  await ch.purgeQueue("corpus.dead");
  await ch.unbindQueue(q.queue, "corpus.topic", "a.*.c");
  await ch.unbindExchange("amq.fanout", "corpus.topic", "#");
  await ch.deleteQueue(q.queue);
  await ch.deleteQueue("corpus.dead");
  await ch.deleteExchange("corpus.topic");
  await ch.deleteExchange("corpus.dlx");
  await ch.close();
  await conn.close();
}

async function amqplibChannelErrors(url: string): Promise<void> {
  const conn = await amqp.connect(url);
  conn.on("error", () => {});
  for (const op of [
    (ch: amqp.Channel) => ch.checkQueue("corpus.no-such-queue"),
    (ch: amqp.Channel) => ch.assertQueue("amq.reserved", {}),
    (ch: amqp.Channel) => ch.checkExchange("corpus.no-such-exchange"),
    async (ch: amqp.Channel) => {
      await ch.assertQueue("corpus.args", { durable: false, arguments: { "x-max-length": 1 } });
      return ch.assertQueue("corpus.args", { durable: false, arguments: { "x-max-length": 2 } });
    },
  ]) {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await op(ch).catch(() => {});
    await sleep(20);
  }
  const ch = await conn.createChannel();
  await ch.deleteQueue("corpus.args");
  const excl = await ch.assertQueue("", { exclusive: true, arguments: { "x-max-priority": 5 } });
  ch.sendToQueue(excl.queue, Buffer.alloc(3000, 7), { priority: 3 });
  ch.publish("amq.direct", "corpus.unroutable", Buffer.from("nobody"), { mandatory: true });
  await ch.get(excl.queue, { noAck: true });
  await ch.recover();
  await conn.close();
}

async function cloudamqpSession(url: string): Promise<void> {
  const client = new AMQPClient(url);
  const conn = await client.connect();
  const ch = await conn.channel();
  await ch.queueDeclare(
    "corpus.cloud",
    { durable: false, autoDelete: false },
    {
      "x-single-active-consumer": true,
      "x-overflow": "reject-publish",
      "x-max-length-bytes": 100000,
    },
  );
  await ch.confirmSelect();
  for (let i = 0; i < 3; i++)
    await ch.basicPublish("", "corpus.cloud", `cloud ${i}`, { deliveryMode: 2, headers: { n: i } });
  await ch.basicQos(10);
  const sub = await ch.basicConsume(
    "corpus.cloud",
    { noAck: false, tag: "cloud-consumer" },
    async (m) => {
      await m.ack();
    },
  );
  await sleep(200);
  await ch.basicCancel(sub.tag);
  const tx = await conn.channel();
  await tx.txSelect();
  await tx.basicPublish("", "corpus.cloud", "in a transaction");
  await tx.txRollback();
  await tx.basicPublish("", "corpus.cloud", "committed");
  await tx.txCommit();
  const got = await tx.basicGet("corpus.cloud", { noAck: false });
  if (got) await got.nack(false, true);
  await tx.basicRecover(true);
  await tx.exchangeDeclare("corpus.hash", "x-consistent-hash", {
    durable: false,
    autoDelete: true,
  });
  await tx.exchangeDeclare(
    "corpus.delayed",
    "x-delayed-message",
    { autoDelete: true },
    { "x-delayed-type": "direct" },
  );
  await tx.queueBind("corpus.cloud", "corpus.hash", "10");
  await tx.basicPublish("corpus.hash", "key-1", "hashed");
  await tx.basicPublish("corpus.delayed", "k", "later", { headers: { "x-delay": 5 } });
  await tx.queuePurge("corpus.cloud");
  await tx.queueDelete("corpus.cloud");
  await tx.exchangeDelete("corpus.hash");
  await tx.exchangeDelete("corpus.delayed");
  await tx.close();
  await ch.close();
  await conn.close();
}

async function rabbitmqClientRpc(url: string): Promise<void> {
  const rabbit = new Connection({ url, connectionTimeout: 5000, retryLow: 50 });
  await rabbit.onConnect(5000);
  const server = rabbit.createConsumer(
    { queue: "corpus.rpc", queueOptions: { exclusive: true }, qos: { prefetchCount: 1 } },
    async (req, reply) => {
      await reply(`answer to ${req.body}`);
    },
  );
  const rpc = rabbit.createRPCClient({ confirm: true, timeout: 3000 });
  await sleep(100);
  await rpc.send("corpus.rpc", "question").catch(() => {});
  const publisher = rabbit.createPublisher({
    confirm: true,
    exchanges: [{ exchange: "corpus.headers", type: "headers", autoDelete: true }],
  });
  await publisher.send(
    { exchange: "corpus.headers", headers: { kind: "a" }, mandatory: false },
    { hello: "json body" },
  );
  await publisher.close();
  await rpc.close();
  await server.close();
  await rabbit.close();
}

async function amqpTools(url: string): Promise<void> {
  const tool = (name: string, ...args: string[]) =>
    runProgram(`/usr/bin/${name}`, ["--url", url, ...args], 10_000);
  await tool("amqp-declare-queue", "-q", "corpus.tools", "-d");
  await tool(
    "amqp-publish",
    "-r",
    "corpus.tools",
    "-p",
    "-C",
    "text/plain",
    "-H",
    "k: v",
    "-b",
    "from amqp-tools",
  );
  await tool("amqp-get", "-q", "corpus.tools");
  await tool("amqp-delete-queue", "-q", "corpus.tools");
}

const python = (script: string, scenario: string): CorpusScenario => ({
  name: `${script.replace("_scenarios.py", "")}-${scenario.replaceAll("_", "-")}`,
  run: (url) => runPythonScenario(script, scenario, url),
});

export const CORPUS_SCENARIOS: readonly CorpusScenario[] = [
  { name: "amqplib-topology-and-messages", run: amqplibTopologyAndMessages },
  { name: "amqplib-channel-errors", run: amqplibChannelErrors },
  { name: "cloudamqp-session", run: cloudamqpSession },
  { name: "rabbitmq-client-rpc", run: rabbitmqClientRpc },
  { name: "amqp-tools", run: amqpTools },
  ...[
    "publish_consume",
    "mandatory_return",
    "confirms",
    "transactions",
    "qos",
    "exchange_bind",
    "direct_reply_to",
    "capabilities",
    "connect_error",
  ].map((s) => python("pika_scenarios.py", s)),
  ...["simple_queue", "producer_consumer", "fanout_broadcast"].map((s) =>
    python("kombu_scenarios.py", s),
  ),
];
