import assert from "node:assert/strict";
import { test } from "node:test";
import { WORK_BUDGET_PER_TURN } from "../../../src/connection/read-gate.js";
import { openClient, publishFrames, testBroker } from "../../support/in-process-client.js";

test("a fanout publisher stops for the turn after its work budget, mid-chunk, and its kept input follows on later turns", () => {
  const broker = testBroker();
  const client = openClient(broker);
  const queues = 100;
  client.declareExchange(1, "fan", "fanout");
  for (let i = 0; i < queues; i++) {
    client.declareQueue(1, `q${i}`);
    client.method(1, {
      name: "queue.bind",
      queue: `q${i}`,
      exchange: "fan",
      routingKey: "",
      noWait: false,
      arguments: new Map(),
    });
  }
  client.pump();
  const publishes = 1000;
  const one = publishFrames(1, "fan", "", "x");
  // One chunk, as one socket read would hand it over: 1,000 publishes x 100 queues.
  client.send(Buffer.concat(Array.from({ length: publishes }, () => one)));
  const perTurn = Math.ceil(WORK_BUDGET_PER_TURN / queues);
  const q0 = broker.vhosts.get("/")!.queues.get("q0")!;
  assert.equal(q0.messageCount, perTurn, "the rest of the chunk waits for a later turn");
  assert.equal(client.paused, true, "the socket is not read meanwhile");
  client.pump();
  assert.equal(q0.messageCount, publishes, "later turns go on where the first stopped");
  for (let i = 0; i < queues; i++) {
    assert.equal(broker.vhosts.get("/")!.queues.get(`q${i}`)!.messageCount, publishes);
  }
  assert.equal(client.paused, false, "reading resumes once the kept input is done");
});
