import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { HeldStore } from "../../support/held-store.js";
import { InProcessClient } from "../../support/in-process-client.js";

function brokerWith(store: HeldStore): Broker {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store,
    saveDefinitions: () => {},
    schedule: (fn) => fn(),
  });
  broker.bootstrapDefaults();
  return broker;
}

async function setup() {
  const store = new HeldStore();
  store.recover(new Set());
  const client = new InProcessClient(brokerWith(store));
  client.handshake();
  client.openChannel(1);
  client.method(1, { name: "confirm.select", nowait: false });
  client.method(1, {
    name: "queue.declare",
    queue: "dq",
    passive: false,
    durable: true,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: new Map(),
  });
  client.method(1, {
    name: "queue.declare",
    queue: "tq",
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: new Map(),
  });
  await new Promise((r) => setImmediate(r));
  client.pump();
  client.received.length = 0;
  return { store, client };
}

test("a persistent message on a durable queue is confirmed only after the store reports it durable", async () => {
  const { store, client } = await setup();
  client.publish(1, "", "dq", "important", { deliveryMode: 2 });
  assert.deepEqual(
    client.pump().map((r) => r.method.name),
    [],
    "no ack before fdatasync",
  );
  store.releaseDurable();
  const acks = client.pump();
  assert.deepEqual(
    acks.map((r) => r.method),
    [{ name: "basic.ack", deliveryTag: 1, multiple: false }],
  );
});

test("a failed fdatasync turns the confirm into a nack", async () => {
  const { store, client } = await setup();
  client.publish(1, "", "dq", "doomed", { deliveryMode: 2 });
  store.releaseDurable(new Error("EIO"));
  assert.deepEqual(
    client.pump().map((r) => r.method),
    [{ name: "basic.nack", deliveryTag: 1, multiple: false, requeue: false }],
  );
});

test("transient messages and non-durable queues are confirmed without waiting for the disk", async () => {
  const { store, client } = await setup();
  client.publish(1, "", "dq", "transient", { deliveryMode: 1 });
  client.publish(1, "", "tq", "persistent but the queue is not durable", { deliveryMode: 2 });
  assert.equal(store.held.length, 0);
  const acks = client.pump().map((r) => r.method);
  assert.deepEqual(acks, [{ name: "basic.ack", deliveryTag: 2, multiple: true }]);
});
