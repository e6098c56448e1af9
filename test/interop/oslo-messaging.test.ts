import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";

// OpenStack's oslo.messaging 14.0.3 (Debian's python3-oslo.messaging) unchanged, over its
// rabbit driver (rabbit://guest:guest@127.0.0.1:PORT/): RPC servers and clients, casts,
// fanout, timeouts, notifications. Scenarios are in python/oslo_scenarios.py; each one bounds
// its own waits (10 s) and stops its servers and cleans up its transports.

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

const oslo = <T = Record<string, unknown>>(scenario: string, args: string[] = []) =>
  runPythonScenario<T>("oslo_scenarios.py", scenario, broker.url, args, 30_000);

let rpcCallRun: Promise<Record<string, unknown>> | undefined;
/** The rpc_call scenario runs once; two tests look at different parts of what it saw. */
const rpcCall = () => {
  rpcCallRun ??= oslo("rpc_call");
  return rpcCallRun;
};

describe("oslo.messaging (rabbit driver)", () => {
  test("an RPC call returns the server's value: numbers, JSON, a 350 kB string, the context, one server by name, ten calls at once", async () => {
    const r = await rpcCall();
    assert.equal(r.add, 42);
    assert.deepEqual(r.echo, { name: "vm-1", flavor: "m1.small", tags: ["a", "é", "☃"], n: null });
    assert.equal(r.bigEchoLength, 350_000);
    assert.equal(r.bigEchoEqual, true);
    assert.deepEqual(r.whoami, { server: "host-a", request_id: "req-42" });
    assert.deepEqual(r.directed, { server: "host-a", request_id: null });
    assert.deepEqual(
      r.parallel,
      Array.from({ length: 10 }, (_, i) => 1000 + i),
    );
  });

  test("an exception in the server comes back to the caller: ValueError as ValueError, others as RemoteError", async () => {
    const r = await rpcCall();
    assert.deepEqual(r.valueError, {
      raised: {
        class: "ValueError",
        module: "builtins",
        firstLine: "bad flavor m1.huge",
        isValueError: true,
      },
    });
    assert.deepEqual(r.customError, {
      raised: {
        class: "RemoteError",
        module: "oslo_messaging.rpc.client",
        firstLine: "Remote error: FlavorNotFound flavor m1.tiny not found",
        excType: "FlavorNotFound",
        value: "flavor m1.tiny not found",
        isValueError: false,
      },
    });
    assert.deepEqual(r.noSuchMethod, {
      raised: {
        class: "RemoteError",
        module: "oslo_messaging.rpc.client",
        firstLine:
          "Remote error: NoSuchMethod Endpoint does not support RPC method reboot_everything",
        excType: "NoSuchMethod",
        value: "Endpoint does not support RPC method reboot_everything",
        isValueError: false,
      },
    });
    // The server keeps serving after its endpoints raised.
    assert.equal(r.afterErrors, 2);
  });

  test("a cast reaches one of two servers, a cast to server=host-b only it, a fanout cast both", async () => {
    assert.deepEqual(await oslo("rpc_cast_fanout"), {
      plain: ["cast-1"],
      plainServers: 1,
      directed: [["host-b", "directed"]],
      fanout: [
        ["host-a", "fanout"],
        ["host-b", "fanout"],
      ],
      callAfter: 5,
    });
  });

  test("a call to a topic no server consumes raises MessagingTimeout after its 3 s timeout instead of hanging", async () => {
    const r = await oslo<{ raised: string; isMessagingTimeout: boolean; elapsedS: number }>(
      "rpc_timeout",
      ["3"],
    );
    assert.equal(r.raised, "MessagingTimeout");
    assert.equal(r.isMessagingTimeout, true);
    assert.ok(r.elapsedS >= 2.9 && r.elapsedS < 6, `timed out after ${r.elapsedS} s`);
  });

  test("a listener receives info (sent before it started) and error notifications with event type, payload and priority", async () => {
    const run = randomUUID();
    assert.deepEqual(await oslo("notifications", [run]), {
      received: [
        {
          priority: "info",
          publisherId: "compute.host-a",
          eventType: "compute.instance.create.end",
          payload: { run, instance_id: "vm-1", state: "active" },
          hasMessageId: true,
          hasTimestamp: true,
        },
        {
          priority: "error",
          publisherId: "compute.host-a",
          eventType: "compute.instance.create.error",
          payload: { run, instance_id: "vm-2", reason: "No valid host" },
          hasMessageId: true,
          hasTimestamp: true,
        },
      ],
    });
  });

  test("the reply_<uuid> queue outlives its x-expires while consumed and is deleted once the client is cleaned up", async () => {
    assert.deepEqual(await oslo("reply_queue_expiry", ["1"]), {
      replyQueuePrefix: "reply",
      calls: [3, 7],
      // [messages, consumers] from a passive queue.declare
      whileConsumed: [0, 1],
      afterIdleWhileConsumed: [0, 1],
      goneAfterCleanup: true,
    });
  });

  // Warren used to send basic.cancel before queue.delete-ok when a channel deleted a
  // queue it consumed from; py-amqp then raised ConsumerCancelled inside queue_delete and
  // oslo left the listener connection open.
  test("stopping an RPC server closes its AMQP connections with connection.close", async () => {
    assert.deepEqual(await oslo("server_shutdown"), {
      answer: 42,
      // the server's listener and reply connections, the client's publish and reply connections
      connectionsWhileRunning: 4,
      closeFailures: [],
      connectionsAfterCleanup: 0,
    });
  });
});
