import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";

// kombu 5.2 over py-amqp (Debian's python3-kombu and python3-amqp): the stack
// oslo.messaging runs on. Scenarios are in python/kombu_scenarios.py.

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

const kombu = (scenario: string) => runPythonScenario("kombu_scenarios.py", scenario, broker.url);

describe("kombu", () => {
  test("SimpleQueue put and get round-trip JSON payloads in order, then is empty", async () => {
    assert.deepEqual(await kombu("simple_queue"), {
      first: { hello: "world", n: [1, 2, 3] },
      contentType: "application/json",
      second: "second",
      emptyAfter: true,
      transport: "kombu.transport.pyamqp",
    });
  });

  test("a Producer on a topic exchange reaches a Consumer bound with compute.*, and only it", async () => {
    assert.deepEqual(await kombu("producer_consumer"), {
      got: [
        [{ method: "run", args: { id: 1 } }, "compute.host1"],
        [{ method: "stop", args: { id: 2 } }, "compute.host2"],
      ],
    });
  });

  test("a fanout cast reaches every listener's queue, as oslo.messaging's fanout does", async () => {
    assert.deepEqual(await kombu("fanout_broadcast"), {
      bodies: [{ cast: "all" }, { cast: "all" }, { cast: "all" }],
    });
  });
});
