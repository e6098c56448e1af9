import fc from "fast-check";
import type { FieldTable } from "../../src/protocol/field-table.js";
import { toTaggedJson } from "../../src/protocol/field-table-json.js";
import type { MetadataCommand } from "../../src/vhost/commands/command-types.js";
import type { MetadataState } from "../../src/vhost/commands/metadata-state.js";

/*
 * Metadata commands over a small world of names, so random sequences collide often:
 * redeclarations, equivalence failures, deletes of what exists, bindings to queues
 * that go away, auto-delete cascades, exclusive queues of two owners.
 */

const vhost = fc.constantFrom("/", "v1");
const user = fc.constantFrom("guest", "u1");
const queueName = fc.constantFrom("q1", "q2", "q3");
const exchangeName = fc.constantFrom("e1", "e2", "amq.direct", "amq.x", "");
const owner = fc.constantFrom("node-a/1", "node-a/2", "node-b/1");
const s = (v: string) => ({ type: "S" as const, value: Buffer.from(v) });

/** Mostly arguments a queue, exchange or binding takes; some that one of them refuses. */
const tables: FieldTable[] = [
  new Map(),
  new Map(),
  new Map(),
  new Map([["x-message-ttl", { type: "I", value: 1000 }]]),
  new Map([["x-message-ttl", { type: "l", value: 1000n }]]),
  new Map([["x-dead-letter-exchange", s("e1")]]),
  new Map([["alternate-exchange", s("e2")]]),
  new Map([["x-delayed-type", s("direct")]]),
  new Map([["x-match", s("any")]]),
  new Map([["x-max-length", { type: "I", value: -1 }]]),
  new Map([["x-queue-type", s("quorum")]]),
  new Map([["x-match", { type: "I", value: 1 }]]),
];
const args = fc.constantFrom(...tables).map(toTaggedJson);
const client = fc.option(fc.record({ owner: owner }, { requiredKeys: [] }), { nil: undefined });

/** Optional fields are left out rather than set to undefined, as JSON would. */
function withOptional<T extends Record<string, unknown>>(
  base: fc.Arbitrary<T>,
  extra: Record<string, fc.Arbitrary<unknown>>,
) {
  return fc.tuple(base, fc.record(extra, { requiredKeys: [] })).map(([b, e]) => {
    const out: Record<string, unknown> = { ...b };
    for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v;
    return out as T;
  });
}

const policy = fc.record({
  vhost,
  name: fc.constantFrom("p1", "p2"),
  // Mostly valid, so policies get set and cleared; each part sometimes refused.
  pattern: fc.constantFrom("^q", ".*", "^e", ".*", "(a+)+(?=b)", "["),
  applyTo: fc.constantFrom("queues", "exchanges", "all", "all", "nonsense" as "all"),
  priority: fc.constantFrom(0, 1, 2, 1.5),
  definition: fc.constantFrom<Record<string, unknown>>(
    { "message-ttl": 5000 },
    { "max-length": 3, expires: 60000 },
    { "alternate-exchange": "e2" },
    { "ha-mode": "all" },
    { "max-length": 3 },
    { "max-lenght": 1 },
    {},
  ),
});

const otherCommand = fc.oneof(
  vhost.map((v) => ({ type: "vhost.add" as const, vhost: v })),
  fc.constantFrom("v1", "v2").map((v) => ({ type: "vhost.delete" as const, vhost: v })),
  withOptional(
    fc.record({
      type: fc.constant("vhost.set-limit" as const),
      vhost: fc.constantFrom("/", "v1", "v2"),
      limit: fc.constantFrom("max-queues" as const, "max-connections" as const),
    }),
    { value: fc.integer({ min: -1, max: 3 }) },
  ),
  withOptional(fc.record({ type: fc.constant("vhost.set-unroutable-capture" as const), vhost }), {
    queue: queueName,
  }),
  fc.record({
    type: fc.constant("user.put" as const),
    user,
    passwordHash: fc.constantFrom("hash-a", "hash-b"),
    hashingAlgorithm: fc.constant("rabbit_password_hashing_sha256"),
    tags: fc.constantFrom([], ["administrator"], ["monitoring", "policymaker"]),
  }),
  user.map((u) => ({ type: "user.delete" as const, user: u })),
  withOptional(
    fc.record({
      type: fc.constant("user.set-limit" as const),
      user,
      limit: fc.constantFrom("max-channels" as const, "max-connections" as const),
    }),
    { value: fc.integer({ min: -1, max: 3 }) },
  ),
  fc.record({
    type: fc.constant("permission.set" as const),
    vhost,
    user,
    configure: fc.constantFrom(".*", "", "^q"),
    write: fc.constantFrom(".*", "(a+)+\\1"),
    read: fc.constant(".*"),
  }),
  fc.record({ type: fc.constant("permission.clear" as const), vhost, user }),
  fc.record({
    type: fc.constant("topic-permission.set" as const),
    vhost,
    user,
    exchange: fc.constantFrom("amq.topic", "e1"),
    write: fc.constantFrom("^a", "["),
    read: fc.constant(".*"),
  }),
  withOptional(fc.record({ type: fc.constant("topic-permission.clear" as const), vhost, user }), {
    exchange: fc.constantFrom("amq.topic", "e1"),
  }),
  fc.record({
    type: fc.constant("policy.set" as const),
    kind: fc.constantFrom("policy" as const, "operator_policy" as const),
    policy,
  }),
  fc.record({
    type: fc.constant("policy.clear" as const),
    kind: fc.constantFrom("policy" as const, "operator_policy" as const),
    vhost,
    name: fc.constantFrom("p1", "p2"),
  }),
  fc.integer({ min: 1, max: 20 }).map((n) => ({ type: "queue-ids.raise" as const, atLeast: n })),
  fc.constant({ type: "definitions.save" as const }),
);

/** Mostly the default vhost, where the topology grows; sometimes one that may not exist. */
const topologyVhost = fc.constantFrom("/", "/", "/", "/", "v1");

/**
 * Each name usually comes with the same definition, so redeclarations are mostly
 * equivalent and the topology grows; one time in five anything goes (406s, unknown
 * types, reserved names).
 */
const exchangeProfiles = [
  { exchange: "e1", exchangeType: "fanout", durable: true, autoDelete: false, arguments: {} },
  { exchange: "e2", exchangeType: "topic", durable: false, autoDelete: true, arguments: {} },
  {
    exchange: "e3",
    exchangeType: "x-consistent-hash",
    durable: true,
    autoDelete: false,
    arguments: {},
  },
  {
    exchange: "e4",
    exchangeType: "x-delayed-message",
    durable: true,
    autoDelete: true,
    arguments: toTaggedJson(new Map([["x-delayed-type", s("direct")]])),
  },
];
const anyExchange = fc.record({
  exchange: exchangeName,
  exchangeType: fc.constantFrom("direct", "fanout", "headers", "x-delayed-message", "bogus"),
  durable: fc.boolean(),
  autoDelete: fc.boolean(),
  arguments: args,
});
const exchangeDeclare = withOptional(
  fc
    .tuple(
      fc.oneof({ arbitrary: fc.constantFrom(...exchangeProfiles), weight: 4 }, anyExchange),
      topologyVhost,
      fc.boolean(),
    )
    .map(([profile, vhost, internal]) => ({
      type: "exchange.declare" as const,
      vhost,
      internal: internal && profile.exchange === "e9",
      ...profile,
    })),
  { client: fc.constant({}) },
);

const queueProfiles = [
  { queue: "q1", durable: true, exclusive: false, autoDelete: false, arguments: {} },
  { queue: "q2", durable: false, exclusive: false, autoDelete: true, arguments: {} },
  { queue: "q3", durable: true, exclusive: true, autoDelete: false, arguments: {} },
];
const anyQueue = fc.record({
  queue: queueName,
  durable: fc.boolean(),
  exclusive: fc.boolean(),
  autoDelete: fc.boolean(),
  arguments: args,
});
const queueDeclare = fc
  .tuple(
    fc.oneof({ arbitrary: fc.constantFrom(...queueProfiles), weight: 4 }, anyQueue),
    topologyVhost,
    fc.oneof({ arbitrary: fc.constant({ owner: "node-a/1" }), weight: 3 }, client),
  )
  .map(([profile, vhost, by]) => ({
    type: "queue.declare" as const,
    vhost,
    ...profile,
    ...(by === undefined ? {} : { client: by }),
  }));

const bindingEnds = fc.oneof(
  fc.record({
    destinationKind: fc.constant("queue" as const),
    destination: fc.constantFrom("q1", "q2", "q3"),
  }),
  fc.record({
    destinationKind: fc.constant("exchange" as const),
    destination: fc.constantFrom("e1", "e2", "e3", ""),
  }),
);
const binding = fc
  .tuple(
    topologyVhost,
    fc.constantFrom("e1", "e2", "e3", "e4", "amq.direct", "amq.fanout", ""),
    bindingEnds,
    fc.constantFrom("", "k", "5", "a.#"),
    fc.oneof({ arbitrary: fc.constant(toTaggedJson(new Map())), weight: 4 }, args),
  )
  .map(([vhost, source, ends, routingKey, a]) => ({
    vhost,
    source,
    ...ends,
    routingKey,
    arguments: a,
  }));

const topologyCommand = fc.oneof(
  { arbitrary: exchangeDeclare, weight: 3 },
  { arbitrary: queueDeclare, weight: 3 },
  {
    arbitrary: withOptional(
      binding.map((b) => ({ type: "binding.add" as const, ...b })),
      {
        client,
      },
    ),
    weight: 5,
  },
  binding.map((b) => ({ type: "binding.remove" as const, ...b })),
  withOptional(
    fc.record({
      type: fc.constant("queue.delete" as const),
      vhost: topologyVhost,
      queue: queueName,
    }),
    { id: fc.integer({ min: 1, max: 8 }), client },
  ),
  fc.record({
    type: fc.constant("exchange.delete" as const),
    vhost: topologyVhost,
    exchange: fc.constantFrom("e1", "e2", "e3", "e4", "amq.direct", ""),
    ifUnused: fc.boolean(),
  }),
  fc.record({ type: fc.constant("queues.drop-owned" as const), vhost: topologyVhost, owner }),
);

/** Declarations, deletions and bindings come most often, so the topology grows and is taken apart. */
export const metadataCommand: fc.Arbitrary<MetadataCommand> = fc.oneof(
  { arbitrary: topologyCommand, weight: 4 },
  { arbitrary: otherCommand, weight: 1 },
) as fc.Arbitrary<MetadataCommand>;

/** Command sequences that declare a topology first, then change it and take it apart. */
export const commandSequence = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.oneof(exchangeDeclare, queueDeclare), { minLength: 4, maxLength: 14 }),
    fc.array(metadataCommand, { minLength: 10, maxLength: 60 }),
  )
  .map(([second, declarations, rest]): MetadataCommand[] => [
    ...(second ? [{ type: "vhost.add" as const, vhost: "v1" }] : []),
    ...declarations,
    ...rest,
  ]);

/** What a fresh node applies first: the default vhost and user. */
export const BOOTSTRAP_COMMANDS: readonly MetadataCommand[] = [
  { type: "vhost.add", vhost: "/" },
  {
    type: "user.put",
    user: "guest",
    passwordHash: "h",
    hashingAlgorithm: "rabbit_password_hashing_sha256",
    tags: ["administrator"],
  },
];

/** A metadata state as plain JSON, every part of it, in its own order. */
export function digest(state: MetadataState): unknown {
  return {
    nextQueueId: state.nextQueueId,
    vhosts: [...state.vhosts.values()].map((v) => ({
      name: v.name,
      defaultQueueType: v.defaultQueueType,
      unroutableQueue: v.unroutableQueue ?? null,
      limits: v.limits,
      exchanges: [...v.exchanges.values()].map((e) => ({
        ...e.definition,
        arguments: toTaggedJson(e.definition.arguments),
        storeId: e.storeId,
      })),
      queues: [...v.queues.values()].map((q) => ({
        ...q.definition,
        arguments: toTaggedJson(q.definition.arguments),
        id: q.id,
        owner: q.owner ?? null,
        home: q.home ?? null,
      })),
      bindings: v.bindings.all().map((b) => ({ ...b, arguments: toTaggedJson(b.arguments) })),
    })),
    users: [...state.users.users.values()].map((u) => ({ ...u, limits: u.limits ?? null })),
    // A vhost or user whose last permission went may leave an empty map: that is no permission.
    permissions: [...state.users.permissions].flatMap(([v, m]) => (m.size ? [[v, [...m]]] : [])),
    topicPermissions: [...state.users.topicPermissions].flatMap(([v, m]) => {
      const byUser = [...m].flatMap(([u, e]) => (e.size ? [[u, [...e]]] : []));
      return byUser.length ? [[v, byUser]] : [];
    }),
    policies: state.policies.list("policy"),
    operatorPolicies: state.policies.list("operator_policy"),
  };
}

/** A state's durable part (what definitions.json keeps), for comparing after a restore. */
export function durableDigest(state: MetadataState): unknown {
  const d = digest(state) as { vhosts: Record<string, unknown>[] };
  return {
    ...d,
    vhosts: d.vhosts.map((v) => {
      const queues = (v.queues as { durable: boolean; exclusive: boolean; name: string }[]).filter(
        (q) => q.durable && !q.exclusive,
      );
      const exchanges = (v.exchanges as { durable: boolean; name: string }[]).filter(
        (e) => e.durable,
      );
      const kept = (kind: string, name: string) =>
        (kind === "queue" ? queues : exchanges).some((o) => o.name === name);
      return {
        ...v,
        queues,
        exchanges,
        bindings: (
          v.bindings as { source: string; destinationKind: string; destination: string }[]
        ).filter((b) => kept("exchange", b.source) && kept(b.destinationKind, b.destination)),
      };
    }),
  };
}
