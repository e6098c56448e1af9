import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import type { HttpResponse } from "../../../src/mgmt/http/http-types.js";
import { statusView } from "../../../src/mgmt/views/status-view.js";
import { REPO_ROOT } from "../../support/broker-process.js";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

// Every field RabbitMQ 3.10.8's management API returns (observed on the Debian
// package, kept in rabbitmq-3.10.8-keys.json) is in Warren's answer too, except the
// Erlang-VM-only ones listed as not applicable. Tools written for RabbitMQ read
// these fields; a missing one is a broken dashboard.

const fixture = JSON.parse(
  readFileSync(join(REPO_ROOT, "test/unit/mgmt/rabbitmq-3.10.8-keys.json"), "utf8"),
) as { rabbitmq: Record<string, string[]>; not_applicable: Record<string, string[]> };

function assertHasRabbitKeys(kind: string, obj: unknown): void {
  assert.ok(obj && typeof obj === "object", `${kind}: not an object: ${JSON.stringify(obj)}`);
  const skip = new Set(fixture.not_applicable[kind] ?? []);
  const missing = fixture.rabbitmq[kind]!.filter((k) => !skip.has(k) && !(k in (obj as object)));
  assert.deepEqual(missing, [], `${kind} lacks RabbitMQ's fields`);
}

let get: (path: string) => Promise<unknown>;
let ctx: ReturnType<typeof testContext>;

before(async () => {
  const broker = memoryBroker();
  ctx = testContext(broker);
  const request = requester(ctx);
  get = async (path) => {
    const r: HttpResponse = await request("GET", path);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  client.method(1, {
    name: "queue.declare",
    queue: "shape-q",
    passive: false,
    durable: true,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: new Map(),
  });
  client.publish(1, "", "shape-q", "one");
  client.publish(1, "", "shape-q", "two");
  client.method(1, { name: "basic.qos", prefetchSize: 0, prefetchCount: 1, global: false });
  client.method(1, {
    name: "basic.consume",
    queue: "shape-q",
    consumerTag: "shape-tag",
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  client.method(1, {
    name: "exchange.declare",
    exchange: "shape-x",
    type: "topic",
    passive: false,
    durable: true,
    autoDelete: false,
    internal: false,
    noWait: false,
    arguments: new Map(),
  });
  client.method(1, {
    name: "queue.bind",
    queue: "shape-q",
    exchange: "shape-x",
    routingKey: "k.#",
    noWait: false,
    arguments: new Map(),
  });
  await new Promise((r) => setImmediate(r));
  client.pump();
});

describe("JSON shapes match RabbitMQ 3.10.8's", () => {
  const lists: [string, string, (items: Record<string, unknown>[]) => unknown][] = [
    ["queue", "/api/queues", (i) => i.find((q) => q.name === "shape-q")],
    ["connection", "/api/connections", (i) => i[0]],
    ["channel", "/api/channels", (i) => i[0]],
    ["consumer", "/api/consumers", (i) => i[0]],
    ["exchange", "/api/exchanges", (i) => i.find((e) => e.name === "shape-x")],
    ["binding", "/api/bindings", (i) => i.find((b) => b.source === "shape-x")],
    ["vhost", "/api/vhosts", (i) => i[0]],
    ["user", "/api/users", (i) => i[0]],
    ["permission", "/api/permissions", (i) => i[0]],
    ["node", "/api/nodes", (i) => i[0]],
  ];
  for (const [kind, path, pick] of lists) {
    test(`${path} items have every field of RabbitMQ's ${kind}`, async () => {
      assertHasRabbitKeys(kind, pick((await get(path)) as Record<string, unknown>[]));
    });
  }

  test("consumers carry RabbitMQ's channel_details", async () => {
    const [c] = (await get("/api/consumers")) as { channel_details: unknown }[];
    assertHasRabbitKeys("consumer.channel_details", c!.channel_details);
  });

  test("/api/overview has RabbitMQ's fields, object totals and churn rates", async () => {
    const o = (await get("/api/overview")) as Record<string, unknown>;
    assertHasRabbitKeys("overview", o);
    assertHasRabbitKeys("overview.object_totals", o.object_totals);
    assertHasRabbitKeys("overview.churn_rates", o.churn_rates);
  });

  test("/api/definitions has RabbitMQ's sections and item fields", async () => {
    const d = (await get("/api/definitions")) as Record<string, Record<string, unknown>[]>;
    assertHasRabbitKeys("definitions", d);
    assertHasRabbitKeys(
      "definitions.queue",
      d.queues!.find((q) => q.name === "shape-q"),
    );
    assertHasRabbitKeys("definitions.exchange", d.exchanges![0]);
    assertHasRabbitKeys("definitions.binding", d.bindings![0]);
    assertHasRabbitKeys("definitions.user", d.users![0]);
  });

  test("warrenctl status JSON has the keys of rabbitmqctl status --formatter json", () => {
    const s = statusView(ctx);
    assertHasRabbitKeys("status", s);
    assertHasRabbitKeys("status.file_descriptors", s.file_descriptors);
  });
});
