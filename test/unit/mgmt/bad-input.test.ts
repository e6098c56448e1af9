import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HttpError, HttpResponse } from "../../../src/mgmt/http/http-types.js";
import { encodeFieldTable } from "../../../src/protocol/field-table.js";
import { fromPlainJson } from "../../../src/protocol/field-table-json.js";
import { Writer } from "../../../src/protocol/wire-writer.js";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

// Bad input to the management API, in process: what the fixes found by
// test/interop/mgmt-api-bad-input.test.ts guarantee, one rule per test.

function setup() {
  const broker = memoryBroker();
  const call = requester(testContext(broker));
  /** The answer, whether the handler returned it or threw it. */
  const answer = (method: string, path: string, body?: unknown): Promise<HttpResponse> =>
    call(method, path, body).catch((e: HttpError) => e.toResponse());
  return { broker, answer };
}

describe("management API: values an AMQP frame cannot carry", () => {
  test("a routing key over 255 bytes is refused before routing; the fanout's consumer keeps its connection", async () => {
    const { broker, answer } = setup();
    const consumer = new InProcessClient(broker);
    consumer.handshake();
    consumer.openChannel(1);
    consumer.declareQueue(1, "watcher");
    consumer.method(1, {
      name: "queue.bind",
      queue: "watcher",
      exchange: "amq.fanout",
      routingKey: "",
      noWait: false,
      arguments: new Map(),
    });
    consumer.method(1, {
      name: "basic.consume",
      queue: "watcher",
      consumerTag: "c",
      noLocal: false,
      noAck: true,
      exclusive: false,
      noWait: false,
      arguments: new Map(),
    });
    // The bind-ok waits for the definitions save in progress, which lands on a later turn.
    await new Promise((resolve) => setImmediate(resolve));
    consumer.pump();
    const channelsBefore = broker.counters.channelsOpened - broker.counters.channelsClosed;

    const r = await answer("POST", "/api/exchanges/%2F/amq.fanout/publish", {
      routing_key: "k".repeat(256),
      payload: "p",
      properties: {},
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, {
      error: "bad_request",
      reason: "502 SYNTAX_ERROR - routing key is longer than 255 bytes",
    });
    // Multi-byte characters count as bytes: 128 "é" are 256 bytes.
    const declare = await answer("PUT", `/api/queues/%2F/${"é".repeat(128)}`, {});
    assert.deepEqual(declare.body, {
      error: "bad_request",
      reason: "queue name is longer than 255 bytes",
    });
    assert.equal(broker.vhosts.get("/")!.queues.has("é".repeat(128)), false);
    // 255 bytes still go through.
    const ok = await answer("POST", "/api/exchanges/%2F/amq.fanout/publish", {
      routing_key: "k".repeat(255),
      payload: "p",
      properties: {},
    });
    assert.deepEqual(ok.body, { routed: true });

    const got = consumer.pump();
    assert.deepEqual(
      got.map((m) => m.method.name),
      ["basic.deliver"],
    );
    assert.equal(consumer.conn.state, "open");
    // The refused requests' channels were closed as usual, not left open.
    assert.equal(broker.counters.channelsOpened - broker.counters.channelsClosed, channelsBefore);
  });
});

describe("management API: JSON numbers in arguments and headers", () => {
  test("integers that fit 64 bits are longs; larger ones are doubles, so every table can be encoded", () => {
    const table = fromPlainJson({
      small: 5,
      top: 2 ** 53,
      over: 2 ** 63,
      huge: 1e300,
      low: -1e300,
    });
    assert.deepEqual(
      [...table].map(([k, v]) => [k, v.type]),
      [
        ["small", "l"],
        ["top", "l"],
        ["over", "d"],
        ["huge", "d"],
        ["low", "d"],
      ],
    );
    assert.doesNotThrow(() => encodeFieldTable(new Writer(64), table));
  });

  test("a queue argument of 1e300 is a double, refused where an integer is required", async () => {
    const { answer } = setup();
    const r = await answer("PUT", "/api/queues/%2F/q", { arguments: { "x-max-length": 1e300 } });
    assert.equal(r.status, 400);
    assert.match((r.body as { reason: string }).reason, /invalid arg 'x-max-length'/);
  });
});

describe("management API: message properties from JSON", () => {
  const publish = (properties: Record<string, unknown>) =>
    setup().answer("POST", "/api/exchanges/%2F/amq.default/publish", {
      routing_key: "nowhere",
      payload: "p",
      properties,
    });

  test("a property, header key or timestamp no content header can carry is a 400 naming it", async () => {
    const long = "x".repeat(256);
    const cases: [Record<string, unknown>, string][] = [
      [{ message_id: long }, "message_id is longer than 255 bytes"],
      [{ reply_to: "é".repeat(128) }, "reply_to is longer than 255 bytes"],
      [{ timestamp: 1e300 }, "timestamp must be seconds since 1970"],
      [
        { headers: { nested: { [long]: 1 } } },
        "headers cannot be sent in an AMQP frame: short string longer than 255 bytes (256)",
      ],
    ];
    for (const [properties, reason] of cases) {
      const r = await publish(properties);
      assert.deepEqual(r.body, { error: "bad_request", reason }, JSON.stringify(properties));
    }
  });

  test("255 bytes and a 1e300 header are fine", async () => {
    const r = await publish({ message_id: "x".repeat(255), headers: { n: 1e300 } });
    assert.deepEqual(r.body, { routed: false });
  });
});

describe("dead-letter routing keys", () => {
  test("one over 255 bytes is refused as a queue argument, over AMQP and HTTP, and in a policy", async () => {
    const { broker, answer } = setup();
    const long = "k".repeat(256);
    const args = { "x-dead-letter-exchange": "amq.fanout", "x-dead-letter-routing-key": long };
    const http = await answer("PUT", "/api/queues/%2F/dl", { arguments: args });
    assert.deepEqual(http.body, {
      error: "bad_request",
      reason: `invalid arg 'x-dead-letter-routing-key' for queue 'dl' in vhost '/': "longer than 255 bytes (256)"`,
    });
    const policy = await answer("PUT", "/api/policies/%2F/dl", {
      pattern: ".*",
      definition: { "dead-letter-exchange": "amq.fanout", "dead-letter-routing-key": long },
    });
    assert.deepEqual(policy.body, {
      error: "bad_request",
      reason: "Validation failed: dead-letter-routing-key: must be at most 255 bytes",
    });

    const client = new InProcessClient(broker);
    client.handshake();
    client.openChannel(1);
    client.declareQueue(1, "dl", {
      arguments: new Map([
        ["x-dead-letter-exchange", { type: "S", value: Buffer.from("amq.fanout") }],
        ["x-dead-letter-routing-key", { type: "S", value: Buffer.from(long) }],
      ]),
    });
    const close = client.pump().find((r) => r.method.name === "channel.close");
    assert.equal(close?.method.name === "channel.close" && close.method.replyCode, 406);
    assert.equal(client.conn.state, "open");
  });
});

describe("definitions import of the wrong shape", () => {
  test("a list item that is not an object is a 400 naming the list, not a TypeError", async () => {
    const { answer } = setup();
    for (const key of ["users", "vhosts", "permissions", "parameters", "policies", "queues"]) {
      const r = await answer("POST", "/api/definitions", { [key]: [null] });
      assert.deepEqual(r.body, {
        error: "bad_request",
        reason: `'${key}' must be a list of objects, got null`,
      });
    }
  });

  test("permissions are checked as PUT /api/permissions checks them: a known user and valid patterns", async () => {
    const { broker, answer } = setup();
    const unknown = await answer("POST", "/api/definitions", {
      permissions: [{ vhost: "/", user: "ghost", configure: ".*", write: ".*", read: ".*" }],
    });
    assert.deepEqual(unknown.body, { error: "bad_request", reason: "user_not_found: 'ghost'" });
    const invalid = await answer("POST", "/api/definitions", {
      permissions: [{ vhost: "/", user: "guest", configure: "(", write: ".*", read: ".*" }],
    });
    assert.equal(invalid.status, 400);
    assert.deepEqual(broker.users.permission("/", "guest"), {
      configure: ".*",
      write: ".*",
      read: ".*",
    });
  });

  test("arguments, booleans and tags of the wrong type are refused, not coerced", async () => {
    const { broker, answer } = setup();
    for (const [defs, reason] of [
      [{ queues: [{ name: "q", arguments: "abc" }] }, "arguments must be an object"],
      [{ queues: [{ name: "q", durable: "yes" }] }, 'durable must be a boolean, got "yes"'],
      [
        { users: [{ name: "u", password_hash: "", tags: { a: 1 } }] },
        'tags must be a string or a list of strings, got {"a":1}',
      ],
    ] as const) {
      const r = await answer("POST", "/api/definitions", defs);
      assert.deepEqual(r.body, { error: "bad_request", reason });
    }
    assert.equal(broker.vhosts.get("/")!.queues.has("q"), false);
    assert.equal(broker.users.users.has("u"), false);
  });
});

describe("JSON objects with their own toString or valueOf", () => {
  // JSON.parse makes {"toString": 1} an object whose String() and Number() throw a TypeError.
  const trap = { toString: 1, valueOf: 1 };

  test("are refused with a 400 wherever a string or number was expected", async () => {
    const { answer } = setup();
    const cases: [string, string, unknown, RegExp][] = [
      [
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        { routing_key: "q", payload: "p", payload_encoding: trap },
        /^unsupported_encoding \{"toString":1,"valueOf":1\}$/,
      ],
      [
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        { routing_key: "q", payload: "p", properties: { timestamp: trap } },
        /^timestamp must be/,
      ],
      ["PUT", "/api/users/u", { password: "pw", tags: trap }, /^tags must be/],
      [
        "POST",
        "/api/definitions",
        { policies: [{ name: "p", vhost: trap, pattern: ".*", definition: { expires: 1 } }] },
        /^vhost must be a string/,
      ],
    ];
    for (const [method, path, body, reason] of cases) {
      const r = await answer(method, path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match((r.body as { reason: string }).reason, reason);
    }
  });

  test("are sorted by as JSON when they come back in a list", async () => {
    const { answer } = setup();
    for (const name of ["a", "b"]) {
      const r = await answer("PUT", `/api/queues/%2F/${name}`, { arguments: { toString: name } });
      assert.equal(r.status, 201);
    }
    const r = await answer("GET", "/api/queues?sort=arguments&columns=name");
    assert.deepEqual(r.body, [{ name: "a" }, { name: "b" }]);
  });
});
