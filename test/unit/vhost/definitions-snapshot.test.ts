import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { buildSnapshot, restoreSnapshot } from "../../../src/vhost/definitions.js";
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
  const restarted = new Broker(DEFAULT_SETTINGS, silentLog);
  restarted.restoringDefinitions(() => restoreSnapshot(restarted, saved));
  const vhost = restarted.vhosts.get("/")!;
  assert.equal(vhost.exchange("amq.custom")?.definition.type, "topic");
  assert.deepEqual(
    vhost.allBindings().map((b) => [b.source, b.destination.name, b.routingKey]),
    [["amq.custom", "orders", "order.#"]],
  );
});
