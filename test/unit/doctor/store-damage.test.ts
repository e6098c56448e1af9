import assert from "node:assert/strict";
import { test } from "node:test";
import type { AmqpConnection } from "../../../src/connection/amqp-connection.js";
import { storeDamage } from "../../../src/doctor/checks/store-damage.js";
import { allChecks } from "../../../src/doctor/doctor.js";
import type { DoctorInput } from "../../../src/doctor/finding.js";
import { History } from "../../../src/doctor/history.js";
import { recordDamage } from "../../../src/store/message-store.js";
import type { Broker } from "../../../src/vhost/broker.js";
import { memoryBroker } from "../../support/mgmt-context.js";

function input(broker: Broker): DoctorInput {
  return {
    nowMs: 1_800_000_000_000,
    broker,
    connections: [...broker.connections] as AmqpConnection[],
    history: new History(),
    fds: { used: 40, limit: 1024, socketsUsed: 0, socketsLimit: 831 },
    alarms: [],
    eventLoopDelay: { meanMs: 1, p50Ms: 1, p99Ms: 5, maxMs: 8 },
    windowMs: 600_000,
  };
}

test("the doctor runs the store damage check", () => {
  assert.ok(allChecks().some((c) => c.id === "store-damage"));
});

test("no damage, no finding", () => {
  assert.deepEqual(storeDamage.run(input(memoryBroker())), []);
});

test("damage that lost messages is critical and names the queue, the message and what to do", () => {
  const broker = memoryBroker();
  const vhost = broker.vhosts.get("/")!;
  const orders = vhost.declareQueue(
    {
      name: "orders",
      vhost: "/",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: new Map(),
    },
    {},
    broker.clock(),
  );
  const damage = broker.store!.damage;
  damage.corruptRecords = 2;
  damage.skippedBytes = 700;
  damage.lostMessages = 1;
  recordDamage(damage, {
    atMs: 1,
    when: "recovery",
    segment: 7,
    offset: 4096,
    bytes: 600,
    record: "message",
    msgId: 4242,
    lost: [{ queueId: orders.storeId, messages: 1 }],
  });
  recordDamage(damage, {
    atMs: 2,
    when: "recovery",
    segment: 9,
    offset: 8,
    bytes: 100,
    record: "unknown",
    lost: undefined,
  });
  const [f] = storeDamage.run(input(broker));
  assert.equal(f?.severity, "critical");
  assert.match(f!.title, /2 damaged records \(700 bytes\).*1 queued message lost/);
  assert.match(
    f!.evidence[0]!,
    /segment 7 offset 4096 \(600 bytes\): message 4242, skipped at start; lost: 1 from queue 'orders' in vhost '\/'/,
  );
  assert.match(f!.evidence[1]!, /lost: unknown/);
  assert.match(f!.remedy, /republish/);
  assert.match(f!.remedy, /smartctl/);
});

test("damage that lost nothing still warns, so the disk gets looked at", () => {
  const broker = memoryBroker();
  const damage = broker.store!.damage;
  damage.corruptRecords = 1;
  damage.skippedBytes = 25;
  recordDamage(damage, {
    atMs: 1,
    when: "recovery",
    segment: 3,
    offset: 100,
    bytes: 25,
    record: "settle",
    lost: [],
  });
  const [f] = storeDamage.run(input(broker));
  assert.equal(f?.severity, "warning");
  assert.match(f!.evidence[0]!, /may be delivered again/);
});
