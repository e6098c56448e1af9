import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import {
  buildSnapshot,
  buildSnapshotInSlices,
  restoreSnapshot,
} from "../../../src/vhost/definitions.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

test("a durable exchange imported under an amq. name is in definitions.json and comes back after a restart", async () => {
  const broker = memoryBroker();
  const call = requester(testContext(broker));
  const imported = await call("POST", "/api/definitions", {
    exchanges: [{ name: "amq.custom", vhost: "/", type: "topic", durable: true }],
    queues: [{ name: "orders", vhost: "/", durable: true }],
    bindings: [
      {
        source: "amq.custom",
        vhost: "/",
        destination: "orders",
        destination_type: "queue",
        routing_key: "order.#",
      },
    ],
  });
  assert.ok(imported.status >= 200 && imported.status < 300, `import answered ${imported.status}`);
  // The import was answered once definitions.json held it: what a restart reads back.
  const saved = JSON.parse(JSON.stringify(buildSnapshot(broker))) as DefinitionsSnapshot;
  const restarted = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  restarted.restoringDefinitions(() => restoreSnapshot(restarted, saved));
  const vhost = restarted.vhosts.get("/")!;
  assert.equal(vhost.exchange("amq.custom")?.definition.type, "topic");
  assert.deepEqual(
    vhost.allBindings().map((b) => [b.source, b.destination.name, b.routingKey]),
    [["amq.custom", "orders", "order.#"]],
  );
});

test("definitions.json is built in slices from the definitions as they were when the save began", async () => {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  const declare = (queue: string) =>
    broker.submitNow({
      type: "queue.declare",
      vhost: "/",
      queue,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
  broker.submitNow({
    type: "exchange.declare",
    vhost: "/",
    exchange: "x",
    exchangeType: "topic",
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: {},
  });
  for (let i = 0; i < 10_000; i++) {
    declare(`q${i}`);
    broker.submitNow({
      type: "binding.add",
      vhost: "/",
      source: "x",
      destinationKind: "queue",
      destination: `q${i}`,
      routingKey: `k.${i}`,
      arguments: {},
    });
  }
  const expected = JSON.parse(JSON.stringify(buildSnapshot(broker)));
  let turns = 0;
  let done = false;
  const building = buildSnapshotInSlices(
    broker,
    () => new Promise((resolve) => setImmediate(resolve)),
  ).finally(() => {
    done = true;
  });
  // Changes between the slices belong to the next save, not to this one.
  const changing = (async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!done) turns++;
      declare(`late${i}`);
      broker.submitNow({ type: "queue.delete", vhost: "/", queue: `q${i}` });
    }
  })();
  const built = await building;
  await changing;
  assert.ok(turns > 0, "no change came between the slices: the build never yielded");
  assert.deepEqual(JSON.parse(JSON.stringify(built)), expected);
  assert.equal(built.queues.length, 10_000);
  assert.equal(built.bindings.length, 10_000);
});
