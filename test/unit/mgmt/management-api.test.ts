import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { managementDispatch, managementRouter } from "../../../src/mgmt/mgmt-service.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

// The management API in process, without sockets: routing, access by tags, and
// the management channel that carries declarations and publishes into the broker.

function setup() {
  const broker = memoryBroker();
  const ctx = testContext(broker);
  return { broker, ctx, call: requester(ctx) };
}

describe("management API in process", () => {
  test("guest from a non-loopback address is refused, as RabbitMQ's loopback_users", async () => {
    const { ctx } = setup();
    const dispatch = managementDispatch(ctx, managementRouter(ctx));
    const r = await dispatch({
      method: "GET",
      path: "/api/overview",
      query: new URLSearchParams(),
      headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
      body: Buffer.alloc(0),
      peerAddress: "10.0.0.12",
    }).catch((e) => e.toResponse());
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, {
      error: "not_authorized",
      reason: "User can only log in via localhost",
    });
  });

  test("declarations go through the channel rules with the caller's permissions", async () => {
    const { call } = setup();
    await call("PUT", "/api/users/limited", { password: "pw", tags: "management" });
    await call("PUT", "/api/permissions/%2F/limited", {
      configure: "^mine-",
      write: ".*",
      read: ".*",
    });
    const refused = await call("PUT", "/api/queues/%2F/other", {}, ["limited", "pw"]).catch((e) =>
      e.toResponse(),
    );
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body, {
      error: "not_authorised",
      reason: "configure access to queue 'other' in vhost '/' refused for user 'limited'",
    });
    const allowed = await call("PUT", "/api/queues/%2F/mine-1", { durable: true }, [
      "limited",
      "pw",
    ]);
    assert.equal(allowed.status, 201);
    const badArg = await call("PUT", "/api/queues/%2F/mine-2", {
      arguments: { "x-max-length": -1 },
    }).catch((e) => e.toResponse());
    assert.equal(badArg.status, 400);
    assert.match((badArg.body as { reason: string }).reason, /invalid arg 'x-max-length'/);
  });

  test("a persistent publish to a durable queue is confirmed and can be fetched back", async () => {
    const { call, broker } = setup();
    await call("PUT", "/api/queues/%2F/durable-q", { durable: true });
    const pub = await call("POST", "/api/exchanges/%2F/amq.default/publish", {
      routing_key: "durable-q",
      payload: "keep me",
      properties: { delivery_mode: 2 },
    });
    assert.deepEqual(pub.body, { routed: true });
    assert.equal(broker.vhosts.get("/")!.queues.get("durable-q")!.messageCount, 1);
    const got = await call("POST", "/api/queues/%2F/durable-q/get", {
      count: 1,
      ackmode: "reject_requeue_false",
    });
    assert.equal((got.body as { payload: string }[])[0]!.payload, "keep me");
    assert.equal(
      broker.vhosts.get("/")!.queues.get("durable-q")!.messageCount,
      0,
      "rejected without requeue",
    );
  });

  test("management channels do not count as client connections", async () => {
    const { call, broker } = setup();
    await call("PUT", "/api/queues/%2F/q", {});
    await call("POST", "/api/exchanges/%2F/amq.default/publish", {
      routing_key: "q",
      payload: "x",
      properties: {},
    });
    assert.equal(broker.counters.connectionsOpened, 0);
    assert.equal(broker.connections.size, 0);
    assert.equal(broker.counters.channelsOpened, broker.counters.channelsClosed);
  });

  test("management channels are admitted and released like a client's, leaving the user's count intact", async () => {
    const { call, broker } = setup();
    const client = new InProcessClient(broker);
    client.handshake();
    client.openChannel(1);
    assert.equal(broker.channelsByUser.get("guest"), 1);
    await call("PUT", "/api/queues/%2F/counted", {});
    await call("POST", "/api/queues/%2F/counted/get", { count: 1, ackmode: "ack_requeue_true" });
    assert.equal(broker.channelsByUser.get("guest"), 1, "the client's channel is still counted");
  });

  test("deleting a vhost closes its connections and drops its queues and permissions", async () => {
    const { call, broker } = setup();
    await call("PUT", "/api/vhosts/gone", {});
    await call("PUT", "/api/permissions/gone/guest", { configure: ".*", write: ".*", read: ".*" });
    await call("PUT", "/api/queues/gone/q", {});
    const client = new InProcessClient(broker);
    client.handshake("guest", "guest", "gone");
    assert.equal(client.conn.state, "open");
    assert.equal((await call("DELETE", "/api/vhosts/gone")).status, 204);
    const close = client.pump().find((r) => r.method.name === "connection.close");
    assert.ok(close, "the client got connection.close");
    assert.equal(close.method.name === "connection.close" && close.method.replyCode, 320);
    assert.equal(broker.vhosts.has("gone"), false);
    assert.equal(broker.users.permissions.has("gone"), false);
  });

  test("alarms make the alarm health checks fail with 503 and list them", async () => {
    const store = new MemoryMessageStore();
    (store as { alarm: string | undefined }).alarm = "write failed: ENOSPC";
    const broker = memoryBroker(Date.now, store);
    const call = requester(testContext(broker));
    const r = await call("GET", "/api/health/checks/local-alarms");
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, {
      status: "failed",
      reason: "There are alarms in effect on the node",
      alarms: [
        {
          node: broker.settings.nodeName,
          resource: "message_store",
          reason: "write failed: ENOSPC",
        },
      ],
    });
  });

  test("POST /api/warren/stop asks the runtime to stop, after answering", async () => {
    const { ctx, call } = setup();
    const r = await call("POST", "/api/warren/stop", {});
    assert.equal(r.status, 202);
    assert.deepEqual(ctx.stopRequests, []);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ctx.stopRequests, ["warrenctl stop by guest"]);
  });

  test("GET /api/warren/doctor returns the report", async () => {
    const { call } = setup();
    const r = await call("GET", "/api/warren/doctor?window_minutes=5");
    const report = r.body as { healthy: boolean; windowMs: number; checks: unknown[] };
    assert.equal(report.healthy, true);
    assert.equal(report.windowMs, 300_000);
    assert.ok(report.checks.length >= 10);
  });
});
