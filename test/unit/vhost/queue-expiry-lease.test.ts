import assert from "node:assert/strict";
import { test } from "node:test";
import { openClient, testBroker } from "../../support/in-process-client.js";

// RabbitMQ: a queue with x-expires is deleted once unused for that long, and "unused"
// means no consumers, no basic.get and no declaration: redeclaring renews the lease, and
// so does a passive declare (its stat call restarts the expiry timer). Found by running
// the oslo.messaging tests against RabbitMQ, where polling a reply queue with passive
// declares kept it alive.
function setup() {
  let now = 1_000_000;
  const broker = testBroker(() => now);
  const client = openClient(broker);
  const declare = (passive: boolean) => {
    client.declareQueue(1, "leased", {
      passive,
      arguments: passive ? new Map() : new Map([["x-expires", { type: "I", value: 1000 }]]),
    });
    return client.pump().map((r) => r.method.name);
  };
  const advance = (ms: number) => {
    now += ms;
    broker.tick(now);
  };
  const exists = () => broker.vhosts.get("/")!.queues.has("leased");
  return { declare, advance, exists };
}

for (const passive of [false, true]) {
  test(`a ${passive ? "passive " : ""}queue.declare renews the x-expires lease`, () => {
    const { declare, advance, exists } = setup();
    assert.deepEqual(declare(false), ["queue.declare-ok"]);
    for (let i = 0; i < 5; i++) {
      advance(800);
      assert.deepEqual(declare(passive), ["queue.declare-ok"]);
    }
    assert.ok(exists(), "declared every 800 ms, a 1,000 ms lease never runs out");
    advance(1001);
    assert.ok(!exists(), "unused for longer than x-expires, the queue is gone");
  });
}
