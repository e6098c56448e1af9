import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  type ConfirmChannel,
  type Connection,
  connect,
  sleep,
} from "../support/amqplib-helpers.js";
import { type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import {
  judge,
  LONG,
  type Reply,
  request,
  SIDE,
  touchesProtected,
} from "../support/mgmt-request-arbitraries.js";
import { warrenOnly } from "../support/warren-only.js";

// Bad input to the management API, hand-picked and generated, against one real Warren
// while an AMQP client publishes with confirms and consumes beside it. Every bad request
// must get RabbitMQ's answer (400 bad_request, 404 Object Not Found, 405 with Allow),
// never a 500 or a dropped connection, and must not touch the AMQP client.

const skip = warrenOnly("reads Warren's log and sends requests RabbitMQ answers differently");

const SIDE_PATH = encodeURIComponent(SIDE);
// A fixed campaign by default; WARREN_HTTP_FUZZ_SEED and _RUNS explore others.
const SEED = Number(process.env.WARREN_HTTP_FUZZ_SEED ?? 20261202);
const GENERATED = Number(process.env.WARREN_HTTP_FUZZ_RUNS ?? 2000);
const CONCURRENCY = 4;

let node: MgmtBroker;

/** One request as guest; `body` strings are sent as they are, anything else as JSON. */
async function send(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  // fetch refuses a body on GET and HEAD.
  const payload = method === "GET" || method === "HEAD" ? undefined : body;
  const res = await fetch(`${node.mgmtUrl}${path}`, {
    method,
    signal: AbortSignal.timeout(15_000),
    headers: {
      authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}`,
      ...(payload === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body:
      payload === undefined
        ? undefined
        : typeof payload === "string"
          ? payload
          : JSON.stringify(payload),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

// --- the AMQP client beside it all ---------------------------------------------------

interface SideClient {
  conn: Connection;
  ch: ConfirmChannel;
  queue: string;
  confirmed: number;
  received: Set<string>;
  /** Messages that arrived through the management API (amq.fanout), by payload. */
  viaHttp: string[];
  closed: string[];
  stop(): Promise<void>;
}

let side: SideClient;

async function startSideClient(): Promise<SideClient> {
  const conn = await connect(`${node.broker.url}/${SIDE_PATH}`);
  const ch = await conn.createConfirmChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(queue, "amq.fanout", "");
  const client: SideClient = {
    conn,
    ch,
    queue,
    confirmed: 0,
    received: new Set(),
    viaHttp: [],
    closed: [],
    stop: async () => {},
  };
  conn.on("close", (e?: Error) => client.closed.push(`connection closed: ${e?.message}`));
  ch.on("close", () => client.closed.push("channel closed"));
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      const text = m.content.toString();
      if (text.startsWith("side ")) client.received.add(text);
      else client.viaHttp.push(text);
    },
    { noAck: true },
  );
  let running = true;
  const publishing = (async () => {
    for (let n = 0; running; n++) {
      ch.sendToQueue(queue, Buffer.from(`side ${n}`), { persistent: true });
      await ch.waitForConfirms();
      client.confirmed = n + 1;
      await sleep(5);
    }
  })();
  client.stop = async () => {
    running = false;
    await publishing;
  };
  return client;
}

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  assert.equal((await send("PUT", `/api/vhosts/${SIDE_PATH}`, {})).status, 201);
  const all = { configure: ".*", write: ".*", read: ".*" };
  assert.equal((await send("PUT", `/api/permissions/${SIDE_PATH}/guest`, all)).status, 201);
  side = await startSideClient();
});

after(async () => {
  await side?.stop().catch(() => {});
  await side?.conn.close().catch(() => {});
  await node?.stop();
});

// --- hand-picked bad requests --------------------------------------------------------

interface Row {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The exact error body, or the reason as a pattern (error is then bad_request). */
  readonly answer?: { error: string; reason: string } | RegExp;
}

const NOT_FOUND = { error: "Object Not Found", reason: "Not Found" };

const row = (
  method: string,
  path: string,
  body: unknown,
  status: number,
  answer?: Row["answer"],
): Row => ({ method, path, body, status, answer });
/** A 400 bad_request: the exact reason, or a pattern it must match. */
const bad = (method: string, path: string, body: unknown, reason: string | RegExp): Row =>
  row(
    method,
    path,
    body,
    400,
    typeof reason === "string" ? { error: "bad_request", reason } : reason,
  );
/** A 404 Object Not Found. */
const nf = (method: string, path: string, body?: unknown): Row =>
  row(method, path, body, 404, NOT_FOUND);

async function check(rows: readonly Row[]): Promise<void> {
  const wrong: string[] = [];
  for (const row of rows) {
    const r = await send(row.method, row.path, row.body, row.headers);
    const label = `${row.method} ${row.path.slice(0, 80)} ${JSON.stringify(row.body)?.slice(0, 80)}`;
    if (r.status !== row.status) {
      wrong.push(`${label}: status ${r.status} ${r.text.slice(0, 200)}, expected ${row.status}`);
      continue;
    }
    if (row.answer instanceof RegExp) {
      const body = r.json as { error?: unknown; reason?: unknown } | undefined;
      if (body?.error !== "bad_request" || !row.answer.test(String(body.reason)))
        wrong.push(`${label}: answered ${r.text.slice(0, 300)}, expected reason ${row.answer}`);
    } else if (row.answer) {
      try {
        assert.deepEqual(r.json, row.answer);
      } catch {
        wrong.push(`${label}: answered ${r.text.slice(0, 300)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
}

describe("bad requests get RabbitMQ's answers", { skip }, () => {
  test("malformed percent escapes in a path are 400 and name the segment", async () => {
    await check([
      bad("GET", "/api/queues/%E0%A4%A", undefined, "malformed path segment '%E0%A4%A'"),
      bad("PUT", "/api/queues/%2F/%", {}, /'%'/),
      bad("DELETE", "/api/vhosts/%C3%28", undefined, /'%C3%28'/),
      bad("GET", "/api/bindings/%2F/e/amq.direct/q/x/%E0", undefined, /'%E0'/),
    ]);
  });

  test("an unknown vhost is 404 Object Not Found on every path that names one", async () => {
    const v = "no-such-vhost";
    const rows: Row[] = [
      ...[
        `/api/queues/${v}`,
        `/api/queues/${v}/q`,
        `/api/queues/${v}/q/bindings`,
        `/api/exchanges/${v}`,
        `/api/exchanges/${v}/amq.direct`,
        `/api/exchanges/${v}/amq.direct/bindings/source`,
        `/api/bindings/${v}`,
        `/api/bindings/${v}/e/amq.direct/q/q`,
        `/api/vhosts/${v}`,
        `/api/vhosts/${v}/permissions`,
        `/api/vhosts/${v}/connections`,
        `/api/vhosts/${v}/channels`,
        `/api/consumers/${v}`,
        `/api/policies/${v}`,
        `/api/policies/${v}/p`,
        `/api/operator-policies/${v}`,
        `/api/vhost-limits/${v}`,
        `/api/definitions/${v}`,
        `/api/aliveness-test/${v}`,
        `/api/warren/unroutable/${v}`,
        `/api/permissions/${v}/guest`,
      ].map((path) => nf("GET", path)),
      nf("PUT", `/api/queues/${v}/q`, {}),
      nf("DELETE", `/api/queues/${v}/q`),
      nf("DELETE", `/api/queues/${v}/q/contents`),
      nf("POST", `/api/queues/${v}/q/get`, {}),
      nf("PUT", `/api/exchanges/${v}/x`, { type: "direct" }),
      nf("POST", `/api/exchanges/${v}/amq.direct/publish`, {
        routing_key: "k",
        payload: "p",
        properties: {},
      }),
      nf("POST", `/api/bindings/${v}/e/amq.direct/q/q`, {}),
      nf("PUT", `/api/policies/${v}/p`, { pattern: ".*", definition: { "max-length": 1 } }),
      nf("PUT", `/api/vhost-limits/${v}/max-queues`, { value: 1 }),
      nf("POST", `/api/definitions/${v}`, { queues: [] }),
      nf("DELETE", `/api/vhosts/${v}`),
      nf("DELETE", `/api/permissions/${v}/guest`),
    ];
    await check(rows);
  });

  test("unknown objects and inherited property names are 404, not a lookup on Object.prototype", async () => {
    const rows: Row[] = [];
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      for (const path of [
        `/api/queues/%2F/${name}`,
        `/api/exchanges/%2F/${name}`,
        `/api/users/${name}`,
        `/api/users/${name}/permissions`,
        `/api/user-limits/${name}`,
        `/api/vhosts/${name}`,
        `/api/nodes/${name}`,
        `/api/connections/${name}`,
        `/api/channels/${name}`,
        `/api/policies/%2F/${name}`,
        `/api/permissions/%2F/${name}`,
      ])
        rows.push(nf("GET", path));
      rows.push(
        nf("DELETE", `/api/vhost-limits/%2F/${name}`),
        nf("DELETE", `/api/user-limits/guest/${name}`),
        bad("PUT", `/api/vhost-limits/%2F/${name}`, { value: 1 }, /Unrecognised terms/),
      );
    }
    rows.push(nf("GET", "/api/nothing-here"));
    await check(rows);
  });

  test("a method a path does not support is 405 with an Allow header and no body, as RabbitMQ answers", async () => {
    for (const [method, path, allow] of [
      ["PATCH", "/api/overview", "GET"],
      ["POST", "/api/overview", "GET"],
      ["DELETE", "/api/definitions", "GET, POST"],
      ["PUT", "/api/queues/%2F/q/get", "POST"],
      ["OPTIONS", "/api/users/guest", "GET, PUT, DELETE"],
    ] as const) {
      const r = await send(method, path);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), allow);
      assert.equal(r.text, "");
    }
  });

  test("bodies that are not a JSON object are 400 not_json", async () => {
    const rows: Row[] = [];
    for (const body of ["not json", "{", "[1]", "null", "42", '"text"', "\u0000\u00ff"]) {
      rows.push(
        bad("PUT", "/api/queues/%2F/bi-q", body, "not_json"),
        bad("POST", "/api/definitions", body, "not_json"),
        bad("PUT", "/api/users/bi-user", body, "not_json"),
      );
    }
    await check(rows);
  });

  test("the content type is not checked, as RabbitMQ accepts any (curl -d sends form encoding)", async () => {
    const r = await send("PUT", "/api/queues/%2F/bi-plain", "{}", { "content-type": "text/plain" });
    assert.equal(r.status, 201);
  });

  test("fields of the wrong type are 400 bad_request naming the field", async () => {
    const q = "/api/queues/%2F/bi-q";
    const pub = "/api/exchanges/%2F/amq.default/publish";
    const get = "/api/queues/%2F/bi-plain/get";
    const pol = "/api/policies/%2F/bi-p";
    const perm = "/api/permissions/%2F/guest";
    const user = { password: "pw", tags: "" };
    assert.equal((await send("PUT", "/api/users/bi-user", user)).status, 201);
    assert.ok((await send("PUT", "/api/queues/%2F/bi-plain", {})).status < 300);
    await check([
      bad("PUT", q, { durable: "yes" }, /^durable must/),
      bad("PUT", q, { auto_delete: 1 }, /^auto_delete/),
      bad("PUT", q, { arguments: "abc" }, /^arguments/),
      bad("PUT", q, { arguments: { "x-message-ttl": "abc" } }, /invalid arg 'x-message-ttl'/),
      bad("PUT", "/api/exchanges/%2F/bi-x", { type: 5 }, "type must be a string"),
      bad(
        "PUT",
        "/api/exchanges/%2F/bi-x",
        { type: "nonsense" },
        /unknown exchange type 'nonsense'/,
      ),
      bad("POST", pub, { routing_key: 5, payload: "p" }, /^routing_key must be a string/),
      bad("POST", pub, { routing_key: "k", payload: 5 }, "payload_not_string"),
      bad(
        "POST",
        pub,
        { routing_key: "k", payload: "p", properties: "abc" },
        /^properties must be an object/,
      ),
      bad(
        "POST",
        pub,
        { routing_key: "k", payload: "p", properties: { delivery_mode: "x" } },
        /^delivery_mode/,
      ),
      bad(
        "POST",
        get,
        { count: "abc", ackmode: "ack_requeue_true", encoding: "auto" },
        /^count must be an integer/,
      ),
      bad(
        "POST",
        get,
        { count: 1, ackmode: "__proto__", encoding: "auto" },
        /^unknown ackmode "__proto__"/,
      ),
      bad(
        "POST",
        "/api/bindings/%2F/e/amq.direct/q/bi-plain",
        { routing_key: 5 },
        /^routing_key must be a string/,
      ),
      bad("PUT", "/api/users/bi-new", { password: "pw", tags: { admin: true } }, /^tags must be/),
      bad(
        "PUT",
        "/api/users/bi-user",
        { password_hash: 5, tags: "" },
        /^password_hash must be a string/,
      ),
      bad(
        "PUT",
        "/api/users/bi-user",
        { password: ["pw"], tags: "" },
        /^password must be a string/,
      ),
      bad(
        "POST",
        "/api/users/bulk-delete",
        { users: [{ name: "bi-user" }] },
        /^users must be a list of names/,
      ),
      bad("PUT", perm, { configure: 5, write: ".*", read: ".*" }, /^configure must be a string/),
      bad(
        "PUT",
        perm,
        { configure: "(", write: ".*", read: ".*" },
        /not a valid regular expression/,
      ),
      bad("PUT", pol, { pattern: 5, definition: { "max-length": 1 } }, /^pattern must be a string/),
      bad("PUT", pol, { pattern: ".*", definition: [] }, /^definition must be an object/),
      bad(
        "PUT",
        pol,
        { pattern: ".*", definition: { "max-length": 1 }, priority: [1] },
        /^priority must be an integer/,
      ),
      bad(
        "PUT",
        pol,
        { pattern: ".*", definition: { "max-length": 1 }, "apply-to": {} },
        /^apply-to must be a string/,
      ),
      bad(
        "PUT",
        pol,
        '{"pattern":".*","definition":{"toString":1,"__proto__":1}}',
        /'toString' is not a recognised policy key; '__proto__' is not a recognised/,
      ),
      bad(
        "PUT",
        "/api/user-limits/guest/max-connections",
        { value: "many" },
        /max-connections should be an integer/,
      ),
      bad("PUT", "/api/warren/unroutable/%2F", { capture_queue: 5 }, /capture_queue/),
      bad(
        "PUT",
        "/api/warren/vm-memory-high-watermark",
        { relative: "lots" },
        /fraction between 0.0 and 1.0/,
      ),
      bad("PUT", "/api/warren/disk-free-limit", { absolute: [] }, /is not a size/),
      // JSON objects whose own toString or valueOf make String() and Number() throw.
      bad(
        "PUT",
        "/api/warren/vm-memory-high-watermark",
        '{"relative":{"valueOf":1}}',
        /fraction between 0.0 and 1.0/,
      ),
      bad(
        "PUT",
        "/api/warren/disk-free-limit",
        '{"absolute":{"toString":1}}',
        /^\{"toString":1\} is not a size/,
      ),
      bad(
        "POST",
        pub,
        '{"routing_key":"k","payload":"p","payload_encoding":{"toString":1}}',
        /^unsupported_encoding/,
      ),
    ]);
    assert.equal((await send("GET", "/api/users/bi-new")).status, 404);
    assert.equal((await send("GET", "/api/users/bi-user")).status, 200);
  });

  test("names, keys and numbers an AMQP frame cannot carry are 400 and create nothing", async () => {
    const fanout = `/api/exchanges/${SIDE_PATH}/amq.fanout/publish`;
    assert.ok((await send("PUT", "/api/queues/%2F/bi-plain", {})).status < 300);
    await check([
      bad("PUT", `/api/queues/%2F/${LONG}`, {}, /255/),
      bad("PUT", `/api/exchanges/%2F/${LONG}`, { type: "fanout" }, /255/),
      // A routing key no basic.deliver can carry, towards the AMQP client's queue.
      bad("POST", fanout, { routing_key: LONG, payload: "long key", properties: {} }, /255/),
      bad(
        "POST",
        fanout,
        { routing_key: "k", payload: "long id", properties: { message_id: LONG } },
        /message_id .*255/,
      ),
      bad(
        "POST",
        fanout,
        { routing_key: "k", payload: "long header", properties: { headers: { [LONG]: 1 } } },
        /headers/,
      ),
      bad(
        "POST",
        fanout,
        { routing_key: "k", payload: "late", properties: { timestamp: 1e300 } },
        /^timestamp/,
      ),
      bad("POST", "/api/bindings/%2F/e/amq.direct/q/bi-plain", { routing_key: LONG }, /255/),
      bad(
        "PUT",
        "/api/queues/%2F/bi-huge",
        { arguments: { "x-max-length": 1e300 } },
        /invalid arg 'x-max-length'/,
      ),
      bad(
        "PUT",
        `/api/policies/${SIDE_PATH}/bi-dlx`,
        {
          pattern: "^bi-",
          definition: { "dead-letter-exchange": "amq.fanout", "dead-letter-routing-key": LONG },
        },
        /dead-letter-routing-key/,
      ),
      // A number beyond 64 bits is a double, as RabbitMQ's JSON decoder makes it.
      row(
        "POST",
        fanout,
        { routing_key: "k", payload: "huge header", properties: { headers: { n: 1e300 } } },
        200,
      ),
    ]);
    for (const path of [`/api/queues/%2F/${LONG}`, `/api/exchanges/%2F/${LONG}`])
      assert.equal((await send("GET", path)).status, 404, `${path.slice(0, 40)} was created`);
    // The AMQP client beside it got the one good message and nothing else.
    const deadline = Date.now() + 5000;
    while (side.viaHttp.length === 0 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    assert.deepEqual(side.viaHttp, ["huge header"]);
    assert.deepEqual(side.closed, []);
  });

  test("definitions of the wrong shape are 400 bad_request, never a TypeError", async () => {
    assert.ok((await send("PUT", "/api/queues/%2F/bi-plain", {})).status < 300);
    const rows: Row[] = [];
    const refused = (body: unknown, reason: RegExp): Row =>
      bad("POST", "/api/definitions", body, reason);
    for (const key of [
      "users",
      "vhosts",
      "permissions",
      "parameters",
      "policies",
      "queues",
      "exchanges",
      "bindings",
    ]) {
      rows.push(
        refused({ [key]: "x" }, new RegExp(`'${key}' must be a list`)),
        refused({ [key]: [null] }, new RegExp(`'${key}'`)),
        refused({ [key]: [1, 2] }, new RegExp(`'${key}'`)),
        refused({ [key]: [[]] }, new RegExp(`'${key}'`)),
      );
    }
    rows.push(
      refused({ users: [{ name: 5 }] }, /'name' must be a string/),
      refused({ users: [{ name: "bi-d1", password_hash: "", tags: { a: 1 } }] }, /^tags must be/),
      refused({ vhosts: [{ name: "bi-dv", limits: "none" }] }, /limits must be an object/),
      refused(
        { permissions: [{ vhost: "/", user: "bi-nobody", configure: ".*", write: "", read: "" }] },
        /user_not_found: 'bi-nobody'/,
      ),
      refused(
        { permissions: [{ vhost: "/", user: "guest", configure: "(", write: "", read: "" }] },
        /not a valid regular expression/,
      ),
      refused({ queues: [{ name: "bi-dq", arguments: "abc" }] }, /arguments must be an object/),
      refused({ queues: [{ name: "bi-dq", arguments: 5 }] }, /arguments must be an object/),
      refused({ queues: [{ name: "bi-dq", durable: "yes" }] }, /durable must be a boolean/),
      refused({ queues: [{ name: LONG }] }, /255/),
      refused({ exchanges: [{ name: LONG, type: "fanout" }] }, /255/),
      refused({ exchanges: [{ name: "bi-dx", type: "direct", arguments: [1] }] }, /arguments/),
      refused(
        { bindings: [{ source: "amq.direct", destination: "bi-plain", arguments: "x" }] },
        /arguments must be an object/,
      ),
      refused(
        { policies: [{ name: "bi-dp", pattern: "(", definition: { "max-length": 1 } }] },
        /not a valid regular expression/,
      ),
      refused({}, /empty definitions/),
    );
    await check(rows);
    for (const path of ["/api/queues/%2F/bi-dq", "/api/exchanges/%2F/bi-dx", "/api/users/bi-d1"])
      assert.equal((await send("GET", path)).status, 404, `${path} was imported`);
  });

  test("list queries with a bad page, page size or regex are 400; inherited column names select nothing", async () => {
    await check([
      bad("GET", "/api/queues?page=abc", undefined, /^page must be/),
      bad("GET", "/api/queues?page=0", undefined, /^page must be/),
      bad("GET", "/api/queues?page=1&page_size=-1", undefined, /^page_size must be/),
      bad("GET", "/api/exchanges?page=1&page_size=100000", undefined, /^page_size must be/),
      bad("GET", "/api/queues?name=(&use_regex=true", undefined, /^invalid regular expression/),
      bad("GET", "/api/warren/connection-events?since_ms=abc", undefined, /since_ms/),
      bad("GET", "/api/warren/doctor?window_minutes=-5", undefined, /window_minutes/),
    ]);
    const r = await send(
      "GET",
      "/api/exchanges/%2F?columns=name,constructor.name,__proto__.constructor.name,toString&sort=__proto__&name=amq.direct",
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [{ name: "amq.direct" }]);
  });

  test("health checks with a bad port, expiry or unit are 400 in RabbitMQ's words", async () => {
    await check([
      bad("GET", "/api/health/checks/port-listener/abc", undefined, "Invalid port"),
      bad(
        "GET",
        "/api/health/checks/certificate-expiration/soon/days",
        undefined,
        "Invalid expiration value.",
      ),
      bad(
        "GET",
        "/api/health/checks/certificate-expiration/1/fortnights",
        undefined,
        "Time unit not recognised. Supported units: days, weeks, months, years.",
      ),
    ]);
    const ok = await send("GET", "/api/health/checks/certificate-expiration/1/WEEKS");
    assert.equal(ok.status, 200);
  });

  test("a body over the size limit is answered 413 before the connection closes", async () => {
    const r = await send("POST", "/api/definitions", "x".repeat(65 * 1024 * 1024));
    assert.equal(r.status, 413);
    assert.deepEqual(r.json, { error: "bad_request", reason: "request body too large" });
  });

  test("a client that hangs up halfway through its body is not logged as an internal error", async () => {
    const from = node.broker.logs.length;
    await new Promise<void>((resolve) => {
      const s = net.connect(node.mgmtPort, "127.0.0.1", () => {
        s.write(
          "PUT /api/queues/%2F/bi-cut HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n" +
            `Authorization: Basic ${Buffer.from("guest:guest").toString("base64")}\r\n\r\n{"dur`,
        );
        setTimeout(() => s.destroy(), 50);
      });
      s.on("close", () => resolve());
    });
    await sleep(100);
    const errors = node.broker.logs.slice(from).filter((l) => Number(l.level) >= 50);
    assert.deepEqual(errors, []);
    assert.equal((await send("GET", "/api/queues/%2F/bi-cut")).status, 404);
  });
});

describe("generated bad requests", { skip }, () => {
  test(`${GENERATED} generated requests: never a 500 or a dropped connection, every 4xx says what was wrong`, async (t) => {
    // Objects the generated paths name, so that requests get past the lookups.
    for (const [method, path, body] of [
      ["PUT", "/api/vhosts/fz-v1", {}],
      ["PUT", "/api/users/fz-user", { password: "pw", tags: "management" }],
      ["PUT", "/api/permissions/fz-v1/fz-user", { configure: ".*", write: ".*", read: ".*" }],
      ["PUT", "/api/permissions/fz-v1/guest", { configure: ".*", write: ".*", read: ".*" }],
      ["PUT", "/api/queues/%2F/fz-q", {}],
      ["PUT", "/api/queues/fz-v1/fz-q", {}],
      ["PUT", "/api/exchanges/%2F/fz-x", { type: "topic" }],
      ["PUT", "/api/exchanges/fz-v1/fz-x", { type: "topic" }],
      ["POST", "/api/bindings/%2F/e/fz-x/q/fz-q", { routing_key: "#" }],
      [
        "POST",
        "/api/exchanges/%2F/fz-x/publish",
        { routing_key: "k", payload: "m", properties: {} },
      ],
    ] as const)
      assert.ok((await send(method, path, body)).status < 300, `${method} ${path}`);
    const requests = fc
      .sample(request, { seed: SEED, numRuns: GENERATED })
      .filter((r) => !touchesProtected(r));
    assert.ok(requests.length > GENERATED * 0.95, `only ${requests.length} requests left`);
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    const trace: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const i = next++;
          const r = requests[i]!;
          const label = `#${i} ${r.method} ${r.path.slice(0, 120)} ${(r.body ?? "(no body)").slice(0, 120)}`;
          let reply: Reply;
          try {
            reply = await send(r.method, r.path, r.body);
          } catch (e) {
            problems.push(`${label}: no answer (${(e as Error).cause ?? e})`);
            continue;
          }
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          trace.push(`#${i} ${reply.status} ${label} => ${reply.text.slice(0, 200)}`);
          const problem = judge(r, reply);
          if (problem) problems.push(`${label}: ${problem}`);
        }
      }),
    );
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // WARREN_HTTP_FUZZ_TRACE=file keeps every request and answer, to see what the campaign reached.
    const tracePath = process.env.WARREN_HTTP_FUZZ_TRACE;
    if (tracePath) writeFileSync(tracePath, `${trace.join("\n")}\n`);
    assert.deepEqual(problems.slice(0, 15), [], `${problems.length} problems`);
    // The campaign reached the handlers, not only the router, and changed things too.
    const count = (...codes: number[]) => codes.reduce((n, c) => n + (statuses.get(c) ?? 0), 0);
    for (const status of [200, 400, 404, 405])
      assert.ok(count(status) > 10, `few ${status}s: ${[...statuses]}`);
    assert.ok(count(201, 204) > 10, `few 201s and 204s: ${[...statuses]}`);
  });
});

// --- and afterwards ------------------------------------------------------------------

describe("after the bad input", { skip }, () => {
  test("the node runs, logged no internal error, and the AMQP client beside it lost nothing", async () => {
    await side.stop();
    const deadline = Date.now() + 10_000;
    while (side.received.size < side.confirmed && Date.now() < deadline) await sleep(20);
    assert.ok(side.confirmed > 20, `the AMQP client published only ${side.confirmed} messages`);
    assert.equal(side.received.size, side.confirmed, "every confirmed message was delivered");
    assert.deepEqual(side.closed, []);
    assert.equal(node.broker.process?.exitCode, null, "the broker is still running");
    const errors = node.broker.logs.filter(
      (l) => Number(l.level) >= 50 || /internal error|uncaught|unhandled/i.test(String(l.msg)),
    );
    assert.deepEqual(
      errors.map((l) => `${l.msg} ${JSON.stringify(l.err ?? "")}`.slice(0, 400)),
      [],
    );
    assert.equal(node.broker.stderr(), "");
    const whoami = await send("GET", "/api/whoami");
    assert.deepEqual(whoami.json, { name: "guest", tags: ["administrator"] });
    const overview = await send("GET", "/api/overview");
    assert.equal(overview.status, 200);
    assert.equal(typeof (overview.json as { node?: unknown }).node, "string");
  });
});
