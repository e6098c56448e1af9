import assert from "node:assert/strict";
import { test } from "node:test";
import type { Broker } from "../../../src/vhost/broker.js";
import { type InProcessClient, openClient, testBroker } from "../../support/in-process-client.js";

function consumerOn(broker: Broker, queue: string, tag: string): InProcessClient {
  const c = openClient(broker);
  c.declareQueue(1, queue);
  c.method(1, {
    name: "basic.consume",
    queue,
    consumerTag: tag,
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  c.pump();
  return c;
}

// Found with oslo.messaging: stopping an RPC server deletes its fanout queue on the
// channel still consuming from it; py-amqp, waiting for queue.delete-ok, failed on a
// basic.cancel that came first, and oslo left the connection open.
test("deleting a queue on the channel that consumes from it sends queue.delete-ok before basic.cancel", () => {
  const broker = testBroker();
  const owner = consumerOn(broker, "fanout-q", "mine");
  const other = consumerOn(broker, "fanout-q", "theirs");
  owner.method(1, {
    name: "queue.delete",
    queue: "fanout-q",
    ifUnused: false,
    ifEmpty: false,
    noWait: false,
  });
  assert.deepEqual(
    owner.pump().map((r) => [r.method.name, (r.method as { consumerTag?: string }).consumerTag]),
    [
      ["queue.delete-ok", undefined],
      ["basic.cancel", "mine"],
    ],
  );
  // Consumers on other connections hear of it as before.
  assert.deepEqual(
    other.pump().map((r) => [r.method.name, (r.method as { consumerTag?: string }).consumerTag]),
    [["basic.cancel", "theirs"]],
  );
});

test("a refused queue.delete (if-unused) cancels nothing", () => {
  const broker = testBroker();
  const owner = consumerOn(broker, "busy-q", "mine");
  owner.method(1, {
    name: "queue.delete",
    queue: "busy-q",
    ifUnused: true,
    ifEmpty: false,
    noWait: false,
  });
  const got = owner.pump().map((r) => r.method.name);
  assert.deepEqual(got, ["channel.close"]);
  assert.equal(
    broker.vhosts.get("/")!.queues.get("busy-q")?.consumerCount,
    0,
    "the channel's consumer ended with it",
  );
  assert.ok(broker.vhosts.get("/")!.queues.has("busy-q"));
});
