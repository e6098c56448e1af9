import assert from "node:assert/strict";
import { test } from "node:test";
import { openClient, testBroker } from "../../support/in-process-client.js";

function setup() {
  const broker = testBroker();
  const client = openClient(broker);
  client.declareQueue(1, "tx-q");
  client.publish(1, "", "tx-q", "one");
  client.method(1, { name: "basic.get", queue: "tx-q", noAck: false });
  client.method(1, { name: "tx.select" });
  client.pump();
  const queue = broker.vhosts.get("/")!.queues.get("tx-q")!;
  return { client, queue };
}

// Found by the fuzz test (test/fuzz): recover requeued a delivery whose nack was
// waiting for tx.commit, and the commit settled it a second time (unacked went to -1).
test("basic.recover leaves a delivery nacked in the open transaction to the commit", () => {
  const { client, queue } = setup();
  client.method(1, { name: "basic.nack", deliveryTag: 1, multiple: false, requeue: true });
  client.method(1, { name: "basic.recover", requeue: true });
  assert.equal(queue.messageCount, 0, "recover must not requeue a delivery the transaction holds");
  client.method(1, { name: "tx.commit" });
  assert.deepEqual(
    client.pump().map((r) => r.method.name),
    ["basic.recover-ok", "tx.commit-ok"],
  );
  assert.equal(queue.stats().messagesUnacknowledged, 0);
  assert.equal(queue.messageCount, 1, "the commit requeued it, once");
});

test("basic.recover leaves a delivery acked in the open transaction alone; rollback hands it back", () => {
  const { client, queue } = setup();
  client.method(1, { name: "basic.ack", deliveryTag: 1, multiple: false });
  client.method(1, { name: "basic.recover", requeue: true });
  assert.equal(queue.messageCount, 0);
  assert.equal(queue.stats().messagesUnacknowledged, 1);
  client.method(1, { name: "tx.rollback" });
  // Outstanding again: a recover now requeues it.
  client.method(1, { name: "basic.recover", requeue: true });
  assert.equal(queue.stats().messagesUnacknowledged, 0);
  assert.equal(queue.messageCount, 1);
  assert.equal(client.conn.state, "open");
});
