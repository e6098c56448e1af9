import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { REQUEUE_SLICE } from "../../../src/vhost/chores.js";
import { openClient, publishFrames } from "../../support/in-process-client.js";

/** Waits for a durable declare's reply, which follows the definitions save a few turns later. */
async function declared(client: ReturnType<typeof openClient>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (client.pump().some((r) => r.method.name === "queue.declare-ok")) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error("no queue.declare-ok");
}

function brokerWithStore() {
  const store = new MemoryMessageStore();
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store,
    saveDefinitions: async () => {},
    schedule: (fn) => setImmediate(fn),
  });
  broker.bootstrapDefaults();
  return { broker, store };
}

test("a purge empties the queue at once and answers; the messages' claims are let go in slices afterwards", async () => {
  const { broker, store } = brokerWithStore();
  const client = openClient(broker);
  client.declareQueue(1, "big", { durable: true });
  await declared(client);
  const count = 30_000;
  const one = publishFrames(1, "", "big", "m", { deliveryMode: 2 });
  for (let sent = 0; sent < count; sent += 1000) {
    client.send(Buffer.concat(Array.from({ length: 1000 }, () => one)));
    client.pump();
  }
  const queue = broker.vhosts.get("/")!.queues.get("big")!;
  assert.equal(queue.messageCount, count);
  assert.equal(store.heldCount, count);
  // The purge itself, without letting the runtime run chores: the queue is empty now.
  client.method(1, { name: "queue.purge", queue: "big", noWait: false });
  assert.equal(queue.messageCount, 0);
  assert.equal(broker.chores.size, 1, "the release of 30,000 claims waits for later turns");
  assert.match(
    broker.chores.describe()[0]!,
    /purging queue 'big' in vhost '\/': 30000 messages left/,
  );
  assert.equal(store.heldCount, count);
  // Slices: each run stops when the turn's share is used.
  let runs = 0;
  while (broker.chores.run(0, () => true)) runs++;
  assert.ok(runs >= 10, `released over ${runs + 1} slices`);
  assert.equal(store.heldCount, 0, "every claim was settled");
  assert.equal(broker.memory.usedBytes, 0, "memory charges were credited");
  assert.ok(client.pump().some((r) => r.method.name === "queue.purge-ok"));
});

test("deleting a queue lets go of its messages without settle records, in slices", async () => {
  const { broker, store } = brokerWithStore();
  const client = openClient(broker);
  client.declareQueue(1, "gone", { durable: true });
  await declared(client);
  const one = publishFrames(1, "", "gone", "m", { deliveryMode: 2 });
  client.send(Buffer.concat(Array.from({ length: 5000 }, () => one)));
  client.pump();
  const settles: number[] = [];
  const settle = store.settle.bind(store);
  store.settle = (q, id, ref) => {
    settles.push(id);
    settle(q, id, ref);
  };
  const vhost = broker.vhosts.get("/")!;
  assert.equal(vhost.deleteQueue(vhost.queues.get("gone")!, false, false), 5000);
  assert.equal(broker.chores.size, 1);
  broker.chores.runAll(0);
  assert.equal(store.heldCount, 0);
  assert.deepEqual(settles, [], "a deleted queue's id leaves the definitions: no records needed");
});

test("a mass expiry drops a slice per tick and the rest through upkeep chores", () => {
  let now = 1_000;
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, { ...systemSources, clock: () => now });
  broker.bootstrapDefaults();
  const client = openClient(broker);
  client.declareQueue(1, "ttl", {
    arguments: new Map([["x-message-ttl", { type: "I", value: 1000 }]]),
  });
  client.pump();
  const one = publishFrames(1, "", "ttl", "m");
  client.send(Buffer.concat(Array.from({ length: 20_000 }, () => one)));
  const queue = broker.vhosts.get("/")!.queues.get("ttl")!;
  now += 5_000;
  broker.tick(now);
  assert.ok(
    queue.messageCount > 0 && queue.messageCount < 20_000,
    `${queue.messageCount} left after one tick`,
  );
  assert.equal(broker.chores.size, 1);
  broker.chores.runAll(now);
  assert.equal(queue.messageCount, 0);
  assert.equal(broker.counters.droppedByReason.expired, 20_000);
});

test("a closing channel requeues a slice of its unacknowledged deliveries at once and the rest through a chore, losing none", () => {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  const client = openClient(broker);
  client.declareQueue(1, "held");
  client.pump();
  const count = 10_000;
  const one = publishFrames(1, "", "held", "m");
  client.send(Buffer.concat(Array.from({ length: count }, () => one)));
  client.pump();
  const consumer = openClient(broker);
  consumer.method(1, {
    name: "basic.consume",
    queue: "held",
    consumerTag: "c",
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  consumer.pump();
  const queue = broker.vhosts.get("/")!.queues.get("held")!;
  // Dispatch goes 1,000 at a time, as the runtime's turns would.
  for (let turn = 0; turn < 20 && queue.stats().messagesUnacknowledged < count; turn++) {
    broker.runPendingDispatch();
    consumer.pump();
  }
  assert.equal(queue.stats().messagesUnacknowledged, count, "no prefetch limit: everything is out");
  consumer.method(1, {
    name: "channel.close",
    replyCode: 200,
    replyText: "",
    classId: 0,
    methodId: 0,
  });
  assert.equal(queue.messageCount, REQUEUE_SLICE, "the first slice is back at once");
  assert.equal(
    queue.messageCount + queue.stats().messagesUnacknowledged,
    count,
    "the rest still count as unacknowledged",
  );
  assert.equal(broker.chores.size, 1);
  assert.match(
    broker.chores.describe()[0]!,
    /^requeueing 7952 unacknowledged messages of closed channel 1/,
  );
  broker.chores.runAll(0);
  assert.equal(queue.messageCount, count);
  assert.equal(queue.stats().messagesUnacknowledged, 0);
});
