import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

type Overview = {
  queue_totals: { messages: number; messages_ready: number };
  object_totals: Record<string, number>;
  message_stats: { publish: number };
  node?: string;
  listeners?: unknown[];
};

/**
 * Vhost "/" with one queue holding 1 message, vhost "secret" with two queues holding
 * 5; users "mgr" (management, permissions in "/" only) and "watcher" (monitoring, no
 * permissions), and one AMQP connection of guest's in "secret".
 */
async function twoVhosts() {
  const broker = memoryBroker();
  const ctx = testContext(broker);
  const call = requester(ctx);
  await call("PUT", "/api/vhosts/secret");
  await call("PUT", "/api/permissions/secret/guest", { configure: ".*", write: ".*", read: ".*" });
  await call("PUT", "/api/users/mgr", { password: "pw", tags: "management" });
  await call("PUT", "/api/permissions/%2F/mgr", { configure: ".*", write: ".*", read: ".*" });
  await call("PUT", "/api/users/watcher", { password: "pw", tags: "monitoring" });
  await call("PUT", "/api/queues/%2F/visible");
  await call("PUT", "/api/queues/secret/hidden-1");
  await call("PUT", "/api/queues/secret/hidden-2");
  const publish = (vhost: string, queue: string) =>
    call("POST", `/api/exchanges/${vhost}/amq.default/publish`, {
      routing_key: queue,
      payload: "x",
      properties: {},
    });
  await publish("%2F", "visible");
  for (let i = 0; i < 5; i++) await publish("secret", i % 2 ? "hidden-1" : "hidden-2");
  const client = new InProcessClient(broker);
  client.handshake("guest", "guest", "secret");
  client.openChannel(1);
  const overview = async (user: [string, string]) =>
    (await call("GET", "/api/overview", undefined, user)).body as Overview;
  return { broker, overview };
}

test("a management user's overview counts only the vhosts it can access, as RabbitMQ's does", async () => {
  const { broker, overview } = await twoVhosts();
  const o = await overview(["mgr", "pw"]);
  assert.equal(o.queue_totals.messages, 1, "only the message in /");
  assert.equal(o.queue_totals.messages_ready, 1);
  assert.equal(o.object_totals.queues, 1);
  assert.equal(o.object_totals.exchanges, broker.vhosts.get("/")!.exchanges.size);
  assert.equal(o.message_stats.publish, 1);
  // Only its own connections; no consumer count and no node internals (RabbitMQ omits them).
  assert.equal(o.object_totals.connections, 0);
  assert.equal(o.object_totals.channels, 0);
  assert.equal("consumers" in o.object_totals, false);
  assert.equal(o.node, undefined);
  assert.equal(o.listeners, undefined);
});

test("administrators and monitoring users see the node-wide totals", async () => {
  const { overview } = await twoVhosts();
  for (const user of [
    ["guest", "guest"],
    ["watcher", "pw"],
  ] as [string, string][]) {
    const o = await overview(user);
    assert.equal(o.queue_totals.messages, 6, `${user[0]} sees every vhost`);
    assert.equal(o.object_totals.queues, 3);
    assert.equal(o.object_totals.connections, 1);
    assert.equal(typeof o.object_totals.consumers, "number");
    assert.equal(typeof o.node, "string");
  }
});
