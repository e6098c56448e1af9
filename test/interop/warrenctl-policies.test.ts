import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import { type Connection, connect, sleep, take, withTimeout } from "../support/amqplib-helpers.js";
import { type MgmtBroker, startMgmtBroker, warrenctl } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// Policies set through the operator's own tool (issue 4 through issue 6): the real
// bin/warrenctl.js sets and clears them on a running Warren, and real clients see the
// effect: TTL with dead-lettering, length limits with publisher nacks. The log
// records each change and the metrics count the dead letters by reason.

const skip = warrenOnly("sets policies on a Warren it starts");
let node: MgmtBroker;
let conn: Connection;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  conn = await connect(node.broker.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  await node?.stop();
});

async function ctl(...args: string[]) {
  const r = await warrenctl(node.mgmtUrl, args);
  assert.equal(r.exitCode, 0, `warrenctl ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function metric(series: string): Promise<number> {
  const text = await (await fetch(`${node.metricsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no ${series} in the metrics`);
  return Number(line.slice(series.length + 1));
}

type XDeath = { reason: string; queue: string; count: number; exchange: string };

/** The first x-death entry of a dead-lettered message (RabbitMQ puts the latest first). */
function firstDeath(m: amqp.ConsumeMessage): XDeath {
  const deaths = m.properties.headers?.["x-death"] as XDeath[] | undefined;
  assert.ok(deaths?.length, `no x-death header in ${JSON.stringify(m.properties.headers)}`);
  return deaths[0]!;
}

describe("policies set with warrenctl act on real clients", { skip }, () => {
  test("set_policy message-ttl + dead-letter-exchange: messages expire into the DLX with x-death 'expired'; clear_policy stops it", async () => {
    const ch = await conn.createChannel();
    await ch.assertExchange("dlx", "fanout", { durable: false });
    await ch.assertQueue("dead", { durable: false });
    await ch.bindQueue("dead", "dlx", "");

    const set = await ctl(
      "set_policy",
      "ttl-dlx",
      "^ttl\\.",
      '{"message-ttl":100,"dead-letter-exchange":"dlx"}',
      "--apply-to",
      "queues",
    );
    assert.match(set.stdout, /Setting policy "ttl-dlx" for pattern "\^ttl\\\." to/);
    // Declared by the client with no arguments: the policy alone gives it TTL and DLX.
    await ch.assertQueue("ttl.orders", { durable: false });
    await ch.assertQueue("other.orders", { durable: false });
    const q = await ctl("-q", "list_queues", "name", "policy", "--no-table-headers");
    assert.match(q.stdout, /^ttl\.orders\tttl-dlx$/m);
    assert.match(q.stdout, /^other\.orders\t$/m, "the pattern does not match other.orders");

    const expiredBefore = await metric('warren_messages_dead_lettered_total{reason="expired"}');
    ch.sendToQueue("ttl.orders", Buffer.from("order 1"), { messageId: "o1" });
    ch.sendToQueue("other.orders", Buffer.from("kept"));
    const [dead] = await take(ch, "dead", 1);
    assert.equal(dead!.content.toString(), "order 1");
    assert.equal(dead!.properties.messageId, "o1");
    const death = firstDeath(dead!);
    assert.deepEqual(
      { reason: death.reason, queue: death.queue, count: death.count, exchange: death.exchange },
      { reason: "expired", queue: "ttl.orders", count: 1, exchange: "" },
    );
    assert.equal(dead!.properties.headers?.["x-first-death-reason"], "expired");
    ch.ack(dead!);
    assert.equal((await ch.checkQueue("other.orders")).messageCount, 1);
    assert.equal(
      await metric('warren_messages_dead_lettered_total{reason="expired"}'),
      expiredBefore + 1,
    );

    await ctl("clear_policy", "ttl-dlx");
    ch.sendToQueue("ttl.orders", Buffer.from("order 2"));
    await sleep(400);
    assert.equal((await ch.checkQueue("ttl.orders")).messageCount, 1, "order 2 did not expire");
    assert.equal((await ch.checkQueue("dead")).messageCount, 0);
    const after = await ctl("-q", "list_queues", "name", "policy", "--no-table-headers");
    assert.match(after.stdout, /^ttl\.orders\t$/m);

    // Both changes are in the log with who made them (issue 6, item 5).
    const has = (re: RegExp) => (l: Record<string, unknown>) => re.test(String(l.msg));
    const setLine = await node.broker.waitForLog(has(/^policy 'ttl-dlx' set in vhost '\/'/));
    assert.deepEqual(setLine.definition, { "message-ttl": 100, "dead-letter-exchange": "dlx" });
    await node.broker.waitForLog(
      has(/^policy change by user 'guest': policy 'ttl-dlx' in vhost '\/' set/),
    );
    await node.broker.waitForLog(has(/^policy 'ttl-dlx' cleared in vhost '\/'/));
    await node.broker.waitForLog(
      has(/^policy change by user 'guest': policy 'ttl-dlx' in vhost '\/' cleared/),
    );
    await ch.close();
  });

  test("set_policy max-length + overflow reject-publish: a confirming publisher gets a nack; clear_policy lifts it", async () => {
    await ctl(
      "set_policy",
      "cap",
      "^capped\\.",
      '{"max-length":2,"overflow":"reject-publish"}',
      "--apply-to",
      "queues",
      "--priority",
      "1",
    );
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("capped.jobs", { durable: false });
    const publish = (body: string) =>
      new Promise<"ack" | "nack">((resolve) =>
        ch.sendToQueue("capped.jobs", Buffer.from(body), {}, (err) =>
          resolve(err ? "nack" : "ack"),
        ),
      );
    const outcomes = [];
    for (const body of ["1", "2", "3"]) outcomes.push(await withTimeout(publish(body), 5000, body));
    assert.deepEqual(outcomes, ["ack", "ack", "nack"]);
    assert.equal((await ch.checkQueue("capped.jobs")).messageCount, 2);
    const q = await ctl("-q", "list_policies", "--no-table-headers");
    assert.match(
      q.stdout,
      /\/\tcap\t\^capped\\\.\tqueues\t\[\{"max-length",2\},\{"overflow","reject-publish"\}\]\t1/,
    );

    await ctl("clear_policy", "cap");
    assert.equal(await withTimeout(publish("4"), 5000, "4"), "ack");
    assert.equal((await ch.checkQueue("capped.jobs")).messageCount, 3);
    await ch.close();
  });

  test("set_policy max-length with the default overflow dead-letters the oldest as 'maxlen'", async () => {
    await ctl(
      "set_policy",
      "short",
      "^short\\.",
      '{"max-length":1,"dead-letter-exchange":"dlx"}',
      "--apply-to",
      "queues",
    );
    const ch = await conn.createChannel();
    await ch.assertQueue("short.q", { durable: false });
    await ch.purgeQueue("dead");
    const before = await metric('warren_messages_dead_lettered_total{reason="maxlen"}');
    ch.sendToQueue("short.q", Buffer.from("first"));
    ch.sendToQueue("short.q", Buffer.from("second"));
    const [dead] = await take(ch, "dead", 1);
    assert.equal(dead!.content.toString(), "first");
    assert.equal(firstDeath(dead!).reason, "maxlen");
    ch.ack(dead!);
    assert.equal(await metric('warren_messages_dead_lettered_total{reason="maxlen"}'), before + 1);
    await ctl("clear_policy", "short");
    await ch.close();
  });
});
