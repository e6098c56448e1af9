import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import {
  type ConfirmChannel,
  type Connection,
  connect,
  sleep,
  withTimeout,
} from "../support/amqplib-helpers.js";
import {
  api,
  type MgmtBroker,
  startMgmtBroker,
  warrenctlInProcess,
} from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// Issue 13 item 10: a publisher that outruns the consumers of the queues it feeds is
// held back (its socket is not read: `flow`), so the backlog stays bounded, and no
// confirmed message is lost on the way. Real Warren, real amqplib clients and sockets.

const skip = warrenOnly("reads Warren's flow state and metrics");
let node: MgmtBroker;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
});
after(async () => {
  await node?.stop();
});

/** 1 KiB bodies: a queue holds its publishers at about 6,300 of them (8 MiB with bookkeeping). */
const BODY_BYTES = 1024;
const PUBLISH_MS = 8000;

interface ConnectionRow {
  user_provided_name: string | null;
  state: string;
}

interface QueueRow {
  name: string;
  messages_ready: number;
}

/** A consumer that keeps its deliveries and acks them at a fixed pace, or at once when `fast`. */
class PacedConsumer {
  readonly seen = new Set<number>();
  private readonly pending: amqp.ConsumeMessage[] = [];
  fast = false;
  lastDeliveryMs = 0;
  longestGapMs = 0;

  constructor(
    private readonly ch: amqp.Channel,
    private readonly perTick: number,
  ) {}

  async start(queue: string, prefetch: number): Promise<void> {
    await this.ch.prefetch(prefetch);
    await this.ch.consume(queue, (m) => {
      if (!m) return;
      const now = Date.now();
      if (this.lastDeliveryMs > 0)
        this.longestGapMs = Math.max(this.longestGapMs, now - this.lastDeliveryMs);
      this.lastDeliveryMs = now;
      this.seen.add(m.content.readUInt32BE(0));
      this.pending.push(m);
      if (this.fast) this.ackPending(this.pending.length);
    });
  }

  /** Called every 10 ms. */
  tick(): void {
    this.ackPending(this.fast ? this.pending.length : this.perTick);
  }

  private ackPending(n: number): void {
    for (let i = 0; i < n && this.pending.length > 0; i++) this.ch.ack(this.pending.shift()!);
  }
}

/**
 * Publishes numbered 1 KiB messages as fast as amqplib's buffer allows for `ms`, with
 * confirms; resolves with how many were published once all are confirmed.
 */
async function flood(ch: ConfirmChannel, exchange: string, routingKey: string, ms: number) {
  const until = Date.now() + ms;
  let published = 0;
  let nacked = 0;
  while (Date.now() < until) {
    const body = Buffer.alloc(BODY_BYTES);
    body.writeUInt32BE(++published, 0);
    const ok = ch.publish(exchange, routingKey, body, {}, (err) => {
      if (err) nacked++;
    });
    if (!ok) await new Promise((r) => ch.once("drain", r));
    else if (published % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  return {
    published,
    confirmed: async () => {
      await ch.waitForConfirms();
      assert.equal(nacked, 0, "no publish was nacked");
    },
  };
}

async function connectionStates(): Promise<Map<string, string>> {
  const res = await api(node.mgmtUrl, "GET", "/api/connections");
  const rows = res.body as ConnectionRow[];
  return new Map(rows.map((r) => [r.user_provided_name ?? "", r.state]));
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${node.metricsUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Samples states and depths every 250 ms until stopped. */
function sampler(publisherName: string, queues: readonly string[]) {
  const states = new Set<string>();
  const otherStates = new Set<string>();
  const deepest = new Map<string, number>(queues.map((q) => [q, 0]));
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const [byName, res] = await Promise.all([
        connectionStates(),
        api(node.mgmtUrl, "GET", "/api/queues"),
      ]);
      for (const [name, state] of byName) {
        if (name === publisherName) states.add(state);
        else otherStates.add(state);
      }
      for (const q of res.body as QueueRow[]) {
        if (deepest.has(q.name))
          deepest.set(q.name, Math.max(deepest.get(q.name)!, q.messages_ready));
      }
      await sleep(250);
    }
  })();
  return {
    states,
    otherStates,
    deepest,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe("publisher flow control", { skip }, () => {
  test("fanout to slow consumers: the fast publisher is held in flow, the backlog stays bounded, every confirmed message is delivered", async () => {
    const opened: Connection[] = [];
    const consumers: PacedConsumer[] = [];
    const pacer = setInterval(() => {
      for (const c of consumers) c.tick();
    }, 10);
    try {
      const admin = await connect(node.broker.url);
      opened.push(admin);
      const ach = await admin.createChannel();
      const exchange = "flow-fanout";
      await ach.assertExchange(exchange, "fanout", { durable: false });
      const consumed = ["flow-1", "flow-2", "flow-3", "flow-4"];
      // A queue nobody consumes is a store: it takes everything and holds nobody back.
      const store = "flow-store";
      for (const q of [...consumed, store]) {
        await ach.assertQueue(q, { durable: false });
        await ach.bindQueue(q, exchange, "");
      }
      // Slow consumers: 5 acks per queue every 10 ms (about 500 a second), prefetch 50.
      const slow = await connect(node.broker.url, {
        clientProperties: { connection_name: "slow-consumers" },
      });
      opened.push(slow);
      for (const q of consumed) {
        const c = new PacedConsumer(await slow.createChannel(), 5);
        await c.start(q, 50);
        consumers.push(c);
      }
      const fast = await connect(node.broker.url, {
        clientProperties: { connection_name: "fast-publisher" },
      });
      opened.push(fast);
      const pch = await fast.createConfirmChannel();
      const watch = sampler("fast-publisher", [...consumed, store]);
      const pausesBefore = await metric("warren_flow_pauses_total");

      const run = await flood(pch, exchange, "", PUBLISH_MS);
      // Still held: what the operator sees.
      const inFlow = await metric("warren_connections_in_flow");
      const listed = await warrenctlInProcess(node.mgmtUrl, [
        "list_connections",
        "user_provided_name",
        "state",
      ]);
      // The consumers speed up; the publishes still waiting in the socket get read.
      for (const c of consumers) c.fast = true;
      await withTimeout(run.confirmed(), 60_000, "every publish confirmed");
      await watch.stop();

      assert.ok(watch.states.has("flow"), `publisher states seen: ${[...watch.states]}`);
      assert.ok(!watch.otherStates.has("flow"), "the consumers' connection was never held");
      assert.ok(inFlow >= 1, `warren_connections_in_flow at the end of the flood: ${inFlow}`);
      assert.match(listed.stdout, /^fast-publisher\tflow$/m, listed.stdout);
      assert.match(listed.stdout, /^slow-consumers\trunning$/m, listed.stdout);
      assert.ok((await metric("warren_flow_pauses_total")) > pausesBefore);
      // The hold level of 1 KiB messages is about 6,300 a queue; today's code let the
      // publisher put tens of thousands a second into each.
      for (const q of consumed) {
        const depth = watch.deepest.get(q)!;
        assert.ok(depth < 10_000, `${q} at most ${depth} deep (published ${run.published})`);
      }
      const storeDepth = (await ach.checkQueue(store)).messageCount;
      assert.equal(storeDepth, run.published, "the store queue holds every publish");
      // Every confirmed message reaches every consumed queue's consumer.
      const deadline = Date.now() + 60_000;
      while (consumers.some((c) => c.seen.size < run.published) && Date.now() < deadline)
        await sleep(100);
      for (const c of consumers) assert.equal(c.seen.size, run.published);
      for (const q of [...consumed, store]) await ach.deleteQueue(q);
    } finally {
      clearInterval(pacer);
      for (const c of opened) await c.close().catch(() => {});
    }
  });

  test("a connection that publishes to a queue it consumes itself is never held by it and keeps making progress", async () => {
    // Its acks arrive on the very socket flow control would stop reading: holding it
    // would stop the queue it waits for.
    const conn = await connect(node.broker.url, {
      clientProperties: { connection_name: "both-ways" },
    });
    const consumers: PacedConsumer[] = [];
    const pacer = setInterval(() => {
      for (const c of consumers) c.tick();
    }, 10);
    try {
      const queue = "flow-own";
      const pch = await conn.createConfirmChannel();
      await pch.assertQueue(queue, { durable: false });
      // 20 acks every 10 ms: slower than the publisher, so the backlog passes the hold level.
      const self = new PacedConsumer(await conn.createChannel(), 20);
      await self.start(queue, 100);
      consumers.push(self);
      const watch = sampler("both-ways", [queue]);
      const run = await flood(pch, "", queue, PUBLISH_MS);
      const deepest = (await pch.checkQueue(queue)).messageCount;
      self.fast = true;
      await withTimeout(run.confirmed(), 60_000, "every publish confirmed");
      await watch.stop();
      assert.ok(!watch.states.has("flow"), `states seen: ${[...watch.states]}`);
      assert.ok(
        Math.max(deepest, watch.deepest.get(queue)!) > 10_000,
        "the backlog passed the hold level",
      );
      // Held by its own queue, it would wait for the 2 s stall rule each time.
      assert.ok(
        self.longestGapMs < 1500,
        `longest wait between deliveries: ${self.longestGapMs} ms`,
      );
      const deadline = Date.now() + 60_000;
      while (self.seen.size < run.published && Date.now() < deadline) await sleep(100);
      assert.equal(self.seen.size, run.published);
      await pch.deleteQueue(queue);
    } finally {
      clearInterval(pacer);
      await conn.close().catch(() => {});
    }
  });
});
