import fc from "fast-check";

/**
 * Generated requests to the management API for test/interop/mgmt-api-bad-input.test.ts:
 * route templates filled with known and adversarial path segments, random query strings,
 * and bodies that are broken JSON, random JSON shapes, or valid bodies with a few fields
 * replaced, added or removed; and `judge`, what every answer to one must look like.
 */

/** The vhost of the AMQP client beside the campaign: generated requests never name it. */
export const SIDE = "bad-input-side";
/** A name or key longer than a short string can carry. */
export const LONG = "x".repeat(300);

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
  readonly headers: Headers;
}

/** Routes with placeholders, the methods they take, and the fields their bodies have. */
const TEMPLATES: readonly (readonly [string, string, BodyKind?])[] = [
  ["GET", "/api/overview"],
  ["GET", "/api/cluster-name"],
  ["GET", "/api/nodes"],
  ["GET", "/api/nodes/{any}"],
  ["GET", "/api/extensions"],
  ["GET", "/api/parameters/{any}/{vhost}"],
  ["GET", "/api/global-parameters"],
  ["GET POST", "/api/definitions", "definitions"],
  ["GET POST", "/api/definitions/{vhost}", "definitions"],
  ["GET", "/api/queues"],
  ["GET", "/api/queues/{vhost}"],
  ["GET PUT DELETE", "/api/queues/{vhost}/{name}", "queue"],
  ["DELETE", "/api/queues/{vhost}/{name}/contents"],
  ["POST", "/api/queues/{vhost}/{name}/get", "get"],
  ["GET", "/api/queues/{vhost}/{name}/bindings"],
  ["GET", "/api/exchanges/{vhost}"],
  ["GET PUT DELETE", "/api/exchanges/{vhost}/{name}", "exchange"],
  ["POST", "/api/exchanges/{vhost}/{name}/publish", "publish"],
  ["GET", "/api/exchanges/{vhost}/{name}/bindings/{side}"],
  ["GET", "/api/bindings/{vhost}"],
  ["GET POST", "/api/bindings/{vhost}/e/{name}/{dtype}/{name}", "binding"],
  ["GET DELETE", "/api/bindings/{vhost}/e/{name}/{dtype}/{name}/{any}"],
  ["GET", "/api/connections"],
  ["GET DELETE", "/api/connections/{any}"],
  ["GET", "/api/connections/{any}/channels"],
  ["GET", "/api/channels/{any}"],
  ["GET", "/api/vhosts/{vhost}/connections"],
  ["GET", "/api/vhosts/{vhost}/channels"],
  ["GET", "/api/consumers/{vhost}"],
  ["GET", "/api/vhosts"],
  ["GET PUT DELETE", "/api/vhosts/{vhost}", "vhost"],
  ["GET", "/api/vhosts/{vhost}/permissions"],
  ["GET", "/api/whoami"],
  ["GET", "/api/users"],
  ["GET", "/api/users/without-permissions"],
  ["POST", "/api/users/bulk-delete", "bulk"],
  ["GET PUT DELETE", "/api/users/{user}", "user"],
  ["GET", "/api/users/{user}/permissions"],
  ["GET", "/api/permissions"],
  ["GET PUT DELETE", "/api/permissions/{vhost}/{user}", "permission"],
  ["GET", "/api/policies/{vhost}"],
  ["GET PUT DELETE", "/api/policies/{vhost}/{name}", "policy"],
  ["GET PUT DELETE", "/api/operator-policies/{vhost}/{name}", "policy"],
  ["GET", "/api/vhost-limits/{vhost}"],
  ["PUT DELETE", "/api/vhost-limits/{vhost}/{limit}", "limit"],
  ["GET", "/api/user-limits/{user}"],
  ["PUT DELETE", "/api/user-limits/{user}/{limit}", "limit"],
  ["GET", "/api/aliveness-test/{vhost}"],
  ["GET", "/api/health/checks/alarms"],
  ["GET", "/api/health/checks/port-listener/{any}"],
  ["GET", "/api/health/checks/protocol-listener/{any}"],
  ["GET", "/api/health/checks/certificate-expiration/{any}/{any}"],
  ["GET", "/api/warren/status"],
  ["GET", "/api/warren/doctor"],
  ["GET", "/api/warren/connection-events"],
  ["GET", "/api/warren/unroutable"],
  ["GET PUT DELETE", "/api/warren/unroutable/{vhost}", "unroutable"],
  ["GET", "/api/{any}"],
  ["GET", "/{any}"],
];

/** Path segments that break naive code: prototype keys, bad escapes, long and odd names. */
const ADVERSARIAL = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "%E0%A4%A",
  "%",
  "%%",
  "%2",
  "%00",
  "%C3%28",
  "%FF",
  "..",
  ".",
  "%2E%2E",
  "a%2Fb",
  "+",
  "%20",
  "amq.default",
  "amq.direct",
  "amq.gen-x",
  "é",
  "%F0%9F%90%87",
  LONG,
  "x".repeat(2000),
  "",
];

/** Percent-encodes, and a lone surrogate (which has no UTF-8) becomes the bytes of one. */
function encodeLoose(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ED%A0%80";
  }
}

const segment = (pool: readonly string[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...pool) },
    { weight: 3, arbitrary: fc.constantFrom(...ADVERSARIAL) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeLoose) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }).map(encodeLoose) },
  );

const PLACEHOLDERS: Record<string, fc.Arbitrary<string>> = {
  vhost: segment(["%2F", "%2F", "fz-v1", "fz-v1", "no-such-vhost"]),
  name: segment(["fz-q", "fz-q", "fz-x", "fz-x", "amq.fanout", "amq.topic", "aliveness-test"]),
  user: segment(["fz-user", "fz-user", "fz-other", "no-such-user"]),
  limit: segment(["max-connections", "max-queues", "max-channels"]),
  side: segment(["source", "destination"]),
  dtype: segment(["q", "e"]),
  any: segment(["1", "days", "amqp", "0", "-1", "99999999999999999999"]),
};

/** The fields each kind of body has, so generated bodies reach the checks of each field. */
const BODY_KEYS = {
  queue: ["durable", "auto_delete", "arguments", "node"],
  exchange: ["type", "durable", "auto_delete", "internal", "arguments"],
  publish: ["routing_key", "payload", "payload_encoding", "properties"],
  get: ["count", "ackmode", "encoding", "truncate"],
  binding: ["routing_key", "arguments"],
  user: ["password", "password_hash", "hashing_algorithm", "tags"],
  bulk: ["users"],
  permission: ["configure", "write", "read"],
  policy: ["pattern", "definition", "priority", "apply-to"],
  limit: ["value"],
  unroutable: ["capture_queue"],
  vhost: ["description", "tags", "default_queue_type", "tracing"],
  definitions: [
    "users",
    "vhosts",
    "permissions",
    "parameters",
    "policies",
    "queues",
    "exchanges",
    "bindings",
    "rabbit_version",
  ],
} as const;
type BodyKind = keyof typeof BODY_KEYS;

/** Fields of the objects inside bodies: arguments, properties, policy keys, definitions items. */
const NESTED_KEYS = [
  ...BODY_KEYS.definitions,
  "x-max-length",
  "x-message-ttl",
  "x-expires",
  "x-max-priority",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-queue-type",
  "x-overflow",
  "x-single-active-consumer",
  "alternate-exchange",
  "x-match",
  "delivery_mode",
  "priority",
  "timestamp",
  "message_id",
  "headers",
  "content_type",
  "expiration",
  "reply_to",
  "user_id",
  "max-length",
  "message-ttl",
  "expires",
  "dead-letter-exchange",
  "dead-letter-routing-key",
  "overflow",
  "delivery-limit",
  "ha-mode",
  "max-connections",
  "max-channels",
  "max-queues",
  "name",
  "vhost",
  "user",
  "password_hash",
  "hashing_algorithm",
  "tags",
  "limits",
  "configure",
  "write",
  "read",
  "pattern",
  "definition",
  "apply-to",
  "component",
  "value",
  "durable",
  "auto_delete",
  "arguments",
  "type",
  "source",
  "destination",
  "destination_type",
  "routing_key",
  "__proto__",
  "constructor",
  "toString",
];

const leaf = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.constantFrom(LONG, "é".repeat(128)) },
  { weight: 3, arbitrary: fc.constantFrom(1e300, -1e300, 2 ** 64, -(2 ** 63) - 4096) },
  {
    weight: 12,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1,
      1.5,
      1e300,
      -1e300,
      2 ** 64,
      "",
      "true",
      "abc",
      "(",
      ".*",
      "fz-q",
      "fz-user",
      "fz-v1",
      "/",
      "amq.fanout",
      "fanout",
      "topic",
      "ack_requeue_false",
      "reject_requeue_true",
      "base64",
      "administrator",
      "vhost-limits",
      "exchange",
      "queue",
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);

const { value } = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 3 }),
    tie("object"),
  ),
  object: fc.dictionary(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...NESTED_KEYS) },
      fc.string({ maxLength: 6 }),
    ),
    tie("value"),
    { maxKeys: 4 },
  ),
}));

/** A body that is not a JSON object at all: none, empty, broken, or some other JSON value. */
const junk: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom("", "{", "nul", "[]", "{}", "\u0000", '{"a":1}x') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: value.map((v) => JSON.stringify(v) ?? "null") },
);

/** A good body of each kind, for the mutations below. */
const VALID: Record<BodyKind, Record<string, unknown>> = {
  queue: { durable: true, auto_delete: false, arguments: { "x-max-length": 10 } },
  exchange: { type: "topic", durable: true, auto_delete: false, internal: false, arguments: {} },
  publish: {
    routing_key: "k",
    payload: "p",
    payload_encoding: "string",
    properties: { delivery_mode: 2, message_id: "m", headers: { a: 1, b: { c: "d" } } },
  },
  get: { count: 2, ackmode: "ack_requeue_true", encoding: "auto", truncate: 50 },
  binding: { routing_key: "k", arguments: { "x-match": "all" } },
  user: { password: "pw", tags: "management" },
  bulk: { users: ["fz-other"] },
  permission: { configure: ".*", write: ".*", read: ".*" },
  policy: { pattern: "^fz-", definition: { "max-length": 100 }, priority: 0, "apply-to": "queues" },
  limit: { value: 100 },
  unroutable: { capture_queue: "fz-q" },
  vhost: { description: "d", tags: "" },
  definitions: {
    users: [{ name: "fz-du", password_hash: "", tags: "", limits: { "max-connections": 5 } }],
    vhosts: [{ name: "fz-v1", limits: { "max-queues": 500 } }],
    permissions: [{ user: "fz-du", vhost: "fz-v1", configure: ".*", write: ".*", read: ".*" }],
    parameters: [{ component: "vhost-limits", vhost: "fz-v1", value: { "max-queues": 400 } }],
    policies: [{ name: "fz-dp", vhost: "fz-v1", pattern: "^fz-d", definition: { expires: 60000 } }],
    queues: [{ name: "fz-dq", vhost: "fz-v1", durable: true, arguments: { "x-max-length": 5 } }],
    exchanges: [{ name: "fz-dx", vhost: "fz-v1", type: "direct", durable: true, arguments: {} }],
    bindings: [
      {
        source: "fz-dx",
        vhost: "fz-v1",
        destination: "fz-dq",
        destination_type: "queue",
        routing_key: "k",
        arguments: {},
      },
    ],
  },
};

type JsonPath = (string | number)[];

/** Every place in a JSON value where a mutation can go. */
function places(v: unknown, at: JsonPath = []): JsonPath[] {
  if (v === null || typeof v !== "object") return [at];
  const children = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [at, ...children.flatMap((k) => places((v as Record<string, unknown>)[k], [...at, k]))];
}

/** A copy of `v` with the value at `path` replaced (or removed, with undefined). */
function mutate(v: unknown, path: JsonPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = JSON.parse(JSON.stringify(v)) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) {
    const next = at[k];
    // An earlier change replaced this part: nothing left to change here.
    if (next === null || typeof next !== "object") return copy;
    at = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (replacement === undefined && !Array.isArray(at)) delete at[last];
  else at[last] = replacement ?? null;
  return copy;
}

/** Where a mutation goes: an existing value, or a new key beside the fields of an object. */
const mutationPlace = (kind: BodyKind): fc.Arbitrary<JsonPath> => {
  const all = places(VALID[kind]);
  const objects = all.filter((p) => {
    const v = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], VALID[kind]);
    return v !== null && typeof v === "object" && !Array.isArray(v);
  });
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...all.filter((p) => p.length > 0)) },
    fc
      .tuple(
        fc.constantFrom(...objects),
        fc.oneof(fc.constantFrom(...NESTED_KEYS, LONG), fc.string({ maxLength: 6 })),
      )
      .map(([p, k]) => [...p, k]),
  );
};

/** A good body with one to three values replaced by anything, added, or removed. */
const mutated = (kind: BodyKind) =>
  fc
    .array(
      fc.tuple(
        mutationPlace(kind),
        fc.oneof(
          { weight: 3, arbitrary: leaf },
          { weight: 2, arbitrary: value },
          fc.constant(undefined),
        ),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((changes) =>
      JSON.stringify(changes.reduce<unknown>((b, [p, v]) => mutate(b, p, v), VALID[kind])),
    );

/** A JSON object with the fields a handler reads, of any type and shape. */
const shaped = (kind: BodyKind) =>
  fc
    .dictionary(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...BODY_KEYS[kind]) },
        fc.constantFrom(...NESTED_KEYS),
      ),
      value,
      { maxKeys: 4 },
    )
    .map((o) => JSON.stringify(o));

const QUERY_KEYS = [
  "page",
  "page_size",
  "columns",
  "sort",
  "sort_reverse",
  "name",
  "use_regex",
  "if-unused",
  "if-empty",
  "window_minutes",
  "abandoned_minutes",
  "since_ms",
  "disable_stats",
];
const QUERY_VALUES = [
  "abc",
  "-1",
  "0",
  "1",
  "2",
  "500",
  "501",
  "1e3",
  "99999999999999999999",
  "true",
  "",
  "(",
  "name,__proto__.constructor.name,constructor.name",
  "__proto__",
  "message_stats.publish",
  "%E0%A4%A",
  "%",
];
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant("") },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom(...QUERY_KEYS),
          fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string({ maxLength: 8 })),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v.replace(/[#\s]/g, "_")}`).join("&")}`),
  },
);

const METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"];

export interface Generated {
  readonly method: string;
  readonly path: string;
  readonly body: string | undefined;
}

export const request: fc.Arbitrary<Generated> = fc
  .tuple(
    // Routes that take a body twice as often: that is where the handlers parse input.
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...TEMPLATES.filter((t) => t[2])) },
      { weight: 1, arbitrary: fc.constantFrom(...TEMPLATES.filter((t) => !t[2])) },
    ),
    fc.nat(),
    fc.nat(3).map((n) => n > 0),
    fc.constantFrom(...METHODS),
  )
  .chain(([[methods, template, kind], pick, ownMethod, otherMethod]) => {
    // Mostly a method the route takes, and on routes with a body mostly the one that reads it.
    const all = methods.split(" ");
    const writes = all.filter((m) => m === "PUT" || m === "POST");
    const own = kind && writes.length > 0 && pick % 3 > 0 ? writes : all;
    const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    return fc.record({
      method: fc.constant(ownMethod ? own[pick % own.length]! : otherMethod),
      path: fc
        .tuple(
          fc.tuple(...names.map((n) => PLACEHOLDERS[n]!)),
          fc.constantFrom(...Array<string>(8).fill(""), "/", "/extra"),
          query,
        )
        .map(([values, tail, q]) => {
          let i = 0;
          return template.replace(/\{\w+\}/g, () => values[i++]!) + tail + q;
        }),
      body: kind
        ? fc.oneof(
            junk,
            { weight: 2, arbitrary: shaped(kind) },
            { weight: 4, arbitrary: mutated(kind) },
          )
        : junk,
    });
  });

/** What the AMQP client and the node itself depend on; generated requests must not name it. */
export function touchesProtected(r: Generated): boolean {
  const text = `${r.path} ${r.body ?? ""}`.toLowerCase();
  return (
    text.includes("guest") ||
    text.includes(SIDE) ||
    text.includes("warren/stop") ||
    text.includes("watermark") ||
    text.includes("disk-free")
  );
}

/** What is wrong with a reply to a generated request, if anything. */
export function judge(r: Generated, reply: Reply): string | undefined {
  const { status } = reply;
  const health = /^\/api\/(health\/checks|aliveness-test)\//.test(r.path);
  if (status >= 500 && !(status === 503 && health))
    return `status ${status}: ${reply.text.slice(0, 300)}`;
  if (r.method === "HEAD") return undefined;
  if (status === 405) {
    if (!reply.headers.get("allow")) return "405 without an Allow header";
    return reply.text === "" ? undefined : `405 with a body: ${reply.text.slice(0, 100)}`;
  }
  if (status >= 400 && status < 500) {
    const b = reply.json as { error?: unknown; reason?: unknown } | undefined;
    if (typeof b?.error !== "string" || typeof b.reason !== "string" || b.reason === "")
      return `${status} without {error, reason}: ${reply.text.slice(0, 200)}`;
    // An exception's text or a stringified object is no explanation. ("undefined" may be
    // one: RabbitMQ too names a null argument 'undefined' in its inequivalent-arg text.)
    if (status === 400 && /INTERNAL_ERROR|TypeError|RangeError|\[object Object\]/.test(b.reason))
      return `400 that explains nothing: ${b.reason.slice(0, 200)}`;
  }
  if (reply.text !== "" && reply.headers.get("content-type")?.includes("json")) {
    if (reply.json === undefined) return `answer is not JSON: ${reply.text.slice(0, 100)}`;
  }
  return undefined;
}
