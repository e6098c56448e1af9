import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Connection, connect, sleep } from "../support/amqplib-helpers.js";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// The management HTTP API over a real socket: RabbitMQ's paths, JSON shapes,
// status codes and error bodies, and access by user tags.

const skip = warrenOnly("talks to Warren's management port");
let node: MgmtBroker;
let conn: Connection;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  conn = await connect(node.broker.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  await node?.stop();
});

const call = (method: string, path: string, body?: unknown, who?: [string, string] | null) =>
  api(node.mgmtUrl, method, path, body, who === undefined ? ["guest", "guest"] : who);

type Json = Record<string, unknown>;

describe("management API: access", { skip }, () => {
  test("no credentials and wrong credentials are 401 with RabbitMQ's body", async () => {
    assert.equal((await call("GET", "/api/overview", undefined, null)).status, 401);
    const wrong = await call("GET", "/api/overview", undefined, ["guest", "nope"]);
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: "not_authorized", reason: "Login failed" });
  });

  test("user tags decide: management reads its vhosts, monitoring reads all, administrator changes", async () => {
    await call("PUT", "/api/users/api-mgmt", { password: "pw", tags: "management" });
    await call("PUT", "/api/users/api-mon", { password: "pw", tags: ["monitoring"] });
    await call("PUT", "/api/users/api-none", { password: "pw", tags: "" });
    await call("PUT", "/api/vhosts/api-hidden", {});
    await call("PUT", "/api/permissions/%2F/api-mgmt", {
      configure: ".*",
      write: ".*",
      read: ".*",
    });
    const none = await call("GET", "/api/overview", undefined, ["api-none", "pw"]);
    assert.deepEqual(none.body, { error: "not_authorised", reason: "Not management user" });
    const mgmtVhosts = (await call("GET", "/api/vhosts", undefined, ["api-mgmt", "pw"]))
      .body as Json[];
    assert.deepEqual(
      mgmtVhosts.map((v) => v.name),
      ["/"],
    );
    const monVhosts = (await call("GET", "/api/vhosts", undefined, ["api-mon", "pw"]))
      .body as Json[];
    assert.deepEqual(monVhosts.map((v) => v.name).sort(), ["/", "api-hidden"]);
    const denied = await call("PUT", "/api/vhosts/x", {}, ["api-mon", "pw"]);
    assert.deepEqual(denied.body, { error: "not_authorised", reason: "Not administrator user" });
    assert.equal((await call("GET", "/api/nodes", undefined, ["api-mgmt", "pw"])).status, 401);
    assert.equal((await call("GET", "/api/nodes", undefined, ["api-mon", "pw"])).status, 200);
    const other = await call("GET", "/api/queues/api-hidden", undefined, ["api-mgmt", "pw"]);
    assert.equal(other.status, 401);
    await call("DELETE", "/api/vhosts/api-hidden");
  });

  test("guest may only log in from loopback, for HTTP as for AMQP", async () => {
    // The test's own address is loopback; the rule is checked on the peer address.
    assert.equal((await call("GET", "/api/whoami")).status, 200);
  });

  test("unknown paths are 404 and wrong methods 405", async () => {
    const missing = await call("GET", "/api/nothing-here");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "Object Not Found", reason: "Not Found" });
    const wrong = await call("PATCH", "/api/overview");
    assert.equal(wrong.status, 405);
    assert.match(wrong.headers.get("allow") ?? "", /GET/);
  });
});

describe("management API: objects", { skip }, () => {
  test("PUT a queue creates it (201), again changes nothing (204), an inequivalent one is 400", async () => {
    assert.equal(
      (
        await call("PUT", "/api/queues/%2F/api-q", {
          durable: true,
          arguments: { "x-max-length": 10 },
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await call("PUT", "/api/queues/%2F/api-q", {
          durable: true,
          arguments: { "x-max-length": 10 },
        })
      ).status,
      204,
    );
    const bad = await call("PUT", "/api/queues/%2F/api-q", { durable: false });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      error: "bad_request",
      reason:
        "inequivalent arg 'durable' for queue 'api-q' in vhost '/': received 'false' but current is 'true'",
    });
    const q = (await call("GET", "/api/queues/%2F/api-q")).body as Json;
    assert.equal(q.name, "api-q");
    assert.equal(q.durable, true);
    assert.deepEqual(q.arguments, { "x-max-length": 10 });
    assert.equal(q.type, "classic");
    assert.equal(q.state, "running");
  });

  test("publish then get: ack_requeue_true returns and keeps, ack_requeue_false removes", async () => {
    const pub = await call("POST", "/api/exchanges/%2F/amq.default/publish", {
      routing_key: "api-q",
      payload: "aGVsbG8=",
      payload_encoding: "base64",
      properties: { content_type: "text/plain", headers: { n: 1 }, delivery_mode: 2 },
    });
    assert.deepEqual(pub.body, { routed: true });
    const lost = await call("POST", "/api/exchanges/%2F/amq.default/publish", {
      routing_key: "no-such-queue",
      payload: "x",
      payload_encoding: "string",
      properties: {},
    });
    assert.deepEqual(lost.body, { routed: false });
    const peek = (
      await call("POST", "/api/queues/%2F/api-q/get", {
        count: 1,
        ackmode: "ack_requeue_true",
        encoding: "auto",
      })
    ).body as Json[];
    assert.equal(peek.length, 1);
    assert.deepEqual(peek[0], {
      payload_bytes: 5,
      redelivered: false,
      exchange: "",
      routing_key: "api-q",
      message_count: 0,
      properties: { content_type: "text/plain", delivery_mode: 2, headers: { n: 1 } },
      payload: "hello",
      payload_encoding: "string",
    });
    const take = (
      await call("POST", "/api/queues/%2F/api-q/get", {
        count: 5,
        ackmode: "ack_requeue_false",
        encoding: "base64",
      })
    ).body as Json[];
    assert.equal(take.length, 1);
    assert.equal(take[0]!.redelivered, true);
    assert.equal(take[0]!.payload, "aGVsbG8=");
    assert.deepEqual(
      (await call("POST", "/api/queues/%2F/api-q/get", { count: 1, ackmode: "ack_requeue_true" }))
        .body,
      [],
    );
  });

  test("a publish to a missing exchange is 400 quoting the channel error", async () => {
    const r = await call("POST", "/api/exchanges/%2F/no-x/publish", {
      routing_key: "k",
      payload: "x",
      properties: {},
    });
    // RabbitMQ 3.10.8 answers the same 400 with the channel's reply code and text.
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, {
      error: "bad_request",
      reason: "404 NOT_FOUND - no exchange 'no-x' in vhost '/'",
    });
  });

  test("purge empties the ready messages; delete honours if-empty", async () => {
    for (let i = 0; i < 3; i++) {
      await call("POST", "/api/exchanges/%2F/amq.default/publish", {
        routing_key: "api-q",
        payload: "x",
        properties: {},
      });
    }
    const full = await call("DELETE", "/api/queues/%2F/api-q?if-empty=true");
    assert.equal(full.status, 400);
    assert.match((full.body as Json).reason as string, /not empty/);
    assert.equal((await call("DELETE", "/api/queues/%2F/api-q/contents")).status, 204);
    assert.equal(((await call("GET", "/api/queues/%2F/api-q")).body as Json).messages, 0);
    assert.equal((await call("DELETE", "/api/queues/%2F/api-q?if-empty=true")).status, 204);
    assert.equal((await call("GET", "/api/queues/%2F/api-q")).status, 404);
  });

  test("exchanges and bindings: declare, bind with arguments, address by properties key, unbind", async () => {
    assert.equal(
      (await call("PUT", "/api/exchanges/%2F/api-x", { type: "headers", durable: false })).status,
      201,
    );
    await call("PUT", "/api/queues/%2F/api-bq", { durable: false });
    const made = await call("POST", "/api/bindings/%2F/e/api-x/q/api-bq", {
      routing_key: "",
      arguments: { "x-match": "any", a: "1" },
    });
    assert.equal(made.status, 201);
    const list = (await call("GET", "/api/bindings/%2F/e/api-x/q/api-bq")).body as Json[];
    assert.equal(list.length, 1);
    const key = list[0]!.properties_key as string;
    assert.match(key, /^~\S+$/, "empty routing key with arguments: '~' and the arguments' hash");
    assert.equal(made.headers.get("location"), `api-bq/${key}`);
    assert.equal(
      (await call("GET", `/api/bindings/%2F/e/api-x/q/api-bq/${encodeURIComponent(key)}`)).status,
      200,
    );
    const source = (await call("GET", "/api/exchanges/%2F/api-x/bindings/source")).body as Json[];
    assert.equal(source.length, 1);
    assert.equal(
      (await call("DELETE", `/api/bindings/%2F/e/api-x/q/api-bq/${encodeURIComponent(key)}`))
        .status,
      204,
    );
    assert.deepEqual((await call("GET", "/api/bindings/%2F/e/api-x/q/api-bq")).body, []);
    const defaults = (await call("GET", "/api/queues/%2F/api-bq/bindings")).body as Json[];
    assert.deepEqual(defaults, [
      {
        source: "",
        vhost: "/",
        destination: "api-bq",
        destination_type: "queue",
        routing_key: "api-bq",
        arguments: {},
        properties_key: "api-bq",
      },
    ]);
    assert.equal((await call("DELETE", "/api/exchanges/%2F/api-x")).status, 204);
  });

  test("list queries: columns, sort, name filter and pagination", async () => {
    for (const n of ["page-a", "page-b", "page-c"])
      await call("PUT", `/api/queues/%2F/${n}`, { durable: false });
    const cols = (
      await call(
        "GET",
        "/api/queues/%2F?columns=name,message_stats.publish&name=page-&sort=name&sort_reverse=true",
      )
    ).body as Json[];
    assert.deepEqual(
      cols.map((c) => c.name),
      ["page-c", "page-b", "page-a"],
    );
    assert.deepEqual(Object.keys(cols[0]!).sort(), ["message_stats", "name"]);
    const page = (await call("GET", "/api/queues?page=2&page_size=1&name=page-")).body as Json;
    assert.equal(page.page, 2);
    assert.equal(page.page_count, 3);
    assert.equal(page.filtered_count, 3);
    assert.equal((page.items as Json[]).length, 1);
  });

  test("connections, channels and consumers show a client's live state", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("api-cq", { durable: false });
    ch.sendToQueue("api-cq", Buffer.from("x"));
    await ch.prefetch(3);
    await ch.consume("api-cq", () => {}, {
      consumerTag: "api-tag",
      arguments: { "x-priority": 2 },
    });
    await sleep(100);
    const connections = (await call("GET", "/api/connections")).body as Json[];
    assert.equal(connections.length, 1);
    const c = connections[0]!;
    assert.equal(c.state, "running");
    assert.equal(c.protocol, "AMQP 0-9-1");
    assert.equal(c.user, "guest");
    assert.equal((c.client_properties as Json).product, "amqplib");
    const one = await call("GET", `/api/connections/${encodeURIComponent(c.name as string)}`);
    assert.equal((one.body as Json).name, c.name);
    const channels = (await call("GET", "/api/channels")).body as Json[];
    const mine = channels.find((x) => x.consumer_count === 1)!;
    assert.equal(mine.messages_unacknowledged, 1);
    assert.equal(mine.prefetch_count, 3);
    assert.equal((mine.connection_details as Json).name, c.name);
    const consumers = (await call("GET", "/api/consumers/%2F")).body as Json[];
    assert.deepEqual(
      {
        tag: consumers[0]!.consumer_tag,
        queue: consumers[0]!.queue,
        args: consumers[0]!.arguments,
        ack: consumers[0]!.ack_required,
      },
      {
        tag: "api-tag",
        queue: { name: "api-cq", vhost: "/" },
        args: { "x-priority": 2 },
        ack: true,
      },
    );
    await ch.close();
  });

  test("policies: PUT applies, the queue shows it, invalid definitions are 400", async () => {
    await call("PUT", "/api/queues/%2F/pol-q", { durable: false });
    const put = await call("PUT", "/api/policies/%2F/pol", {
      pattern: "^pol-",
      definition: { "max-length": 7 },
      "apply-to": "queues",
      priority: "3",
    });
    assert.equal(put.status, 201);
    const q = (await call("GET", "/api/queues/%2F/pol-q")).body as Json;
    assert.equal(q.policy, "pol");
    assert.deepEqual(q.effective_policy_definition, { "max-length": 7 });
    assert.deepEqual((await call("GET", "/api/policies/%2F/pol")).body, {
      vhost: "/",
      name: "pol",
      pattern: "^pol-",
      "apply-to": "queues",
      definition: { "max-length": 7 },
      priority: 3,
    });
    const bad = await call("PUT", "/api/policies/%2F/bad", {
      pattern: "(",
      definition: { "max-length": 1 },
    });
    assert.equal(bad.status, 400);
    assert.equal((await call("DELETE", "/api/policies/%2F/pol")).status, 204);
    assert.equal(((await call("GET", "/api/queues/%2F/pol-q")).body as Json).policy, null);
  });
});

describe("management API: node, health and definitions", { skip }, () => {
  test("overview and nodes carry the totals and the node's resources", async () => {
    const o = (await call("GET", "/api/overview")).body as Json;
    assert.equal(o.product_name, "Warren");
    assert.match(o.rabbitmq_version as string, /^3\.\d+\.\d+$/);
    assert.equal(typeof (o.object_totals as Json).queues, "number");
    assert.ok(
      (o.listeners as Json[]).some((l) => l.protocol === "amqp" && l.port === node.broker.port),
    );
    const [n] = (await call("GET", "/api/nodes")).body as Json[];
    assert.equal(n!.running, true);
    assert.ok((n!.fd_used as number) > 0 && (n!.fd_used as number) < (n!.fd_total as number));
    assert.equal(n!.sockets_used, 1);
    assert.deepEqual(n!.partitions, []);
    assert.equal((await call("GET", `/api/nodes/${n!.name}`)).status, 200);
  });

  test("aliveness test and health checks answer as RabbitMQ's", async () => {
    assert.deepEqual((await call("GET", "/api/aliveness-test/%2F")).body, { status: "ok" });
    assert.deepEqual((await call("GET", "/api/health/checks/alarms")).body, { status: "ok" });
    assert.deepEqual((await call("GET", "/api/health/checks/local-alarms")).body, { status: "ok" });
    assert.deepEqual(
      (await call("GET", `/api/health/checks/port-listener/${node.broker.port}`)).body,
      {
        status: "ok",
        port: node.broker.port,
      },
    );
    const missing = await call("GET", "/api/health/checks/port-listener/1");
    assert.equal(missing.status, 503);
    assert.equal((missing.body as Json).reason, "No active listener");
    assert.equal((await call("GET", "/api/health/checks/protocol-listener/amqp091")).status, 200);
    assert.equal((await call("GET", "/api/health/checks/virtual-hosts")).status, 200);
    assert.equal((await call("GET", "/api/aliveness-test/no-such-vhost")).status, 404);
  });

  test("definitions export in RabbitMQ's format and import into another node", async () => {
    await call("PUT", "/api/queues/%2F/def-q", {
      durable: true,
      arguments: { "x-message-ttl": 5000 },
    });
    await call("PUT", "/api/exchanges/%2F/def-x", { type: "fanout" });
    await call("POST", "/api/bindings/%2F/e/def-x/q/def-q", { routing_key: "" });
    await call("PUT", "/api/policies/%2F/def-p", {
      pattern: "^def-",
      definition: { expires: 600000 },
      "apply-to": "queues",
    });
    const defs = (await call("GET", "/api/definitions")).body as Json;
    for (const key of [
      "rabbit_version",
      "users",
      "vhosts",
      "permissions",
      "policies",
      "queues",
      "exchanges",
      "bindings",
    ]) {
      assert.ok(key in defs, key);
    }
    assert.deepEqual(
      (defs.queues as Json[]).find((q) => q.name === "def-q"),
      {
        name: "def-q",
        vhost: "/",
        durable: true,
        auto_delete: false,
        arguments: { "x-message-ttl": 5000 },
      },
    );
    const other = await startMgmtBroker();
    try {
      const imported = await api(other.mgmtUrl, "POST", "/api/definitions", defs);
      assert.equal(imported.status, 204, JSON.stringify(imported.body));
      const q = (await api(other.mgmtUrl, "GET", "/api/queues/%2F/def-q")).body as Json;
      assert.equal(q.policy, "def-p");
      const again = (await api(other.mgmtUrl, "GET", "/api/definitions")).body as Json;
      assert.deepEqual(again.queues, defs.queues);
      assert.deepEqual(again.bindings, defs.bindings);
      assert.deepEqual(again.policies, defs.policies);
      assert.deepEqual(
        (again.users as Json[]).map((u) => u.password_hash),
        (defs.users as Json[]).map((u) => u.password_hash),
      );
      const clash = await api(other.mgmtUrl, "POST", "/api/definitions", {
        queues: [{ name: "def-q", vhost: "/", durable: false, auto_delete: false, arguments: {} }],
      });
      assert.equal(clash.status, 400);
      assert.match((clash.body as Json).reason as string, /inequivalent arg 'durable'/);
    } finally {
      await other.stop();
    }
  });
});
