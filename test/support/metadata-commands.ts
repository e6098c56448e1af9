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

const tables: FieldTable[] = [
  new Map(),
  new Map([["x-message-ttl", { type: "I", value: 1000 }]]),
  new Map([["x-message-ttl", { type: "l", value: 1000n }]]),
  new Map([["x-max-length", { type: "I", value: -1 }]]),
  new Map([["x-queue-type", s("quorum")]]),
  new Map([["x-dead-letter-exchange", s("e1")]]),
  new Map([["alternate-exchange", s("e2")]]),
  new Map([["x-match", s("all")]]),
  new Map([["x-match", { type: "I", value: 1 }]]),
  new Map([["x-delayed-type", s("direct")]]),
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
  pattern: fc.constantFrom("^q", ".*", "(a+)+(?=b)", "["),
  applyTo: fc.constantFrom("queues", "exchanges", "all", "nonsense" as "all"),
  priority: fc.constantFrom(0, 1, 1.5),
  definition: fc.constantFrom<Record<string, unknown>>(
    { "message-ttl": 5000 },
    { "max-length": 3, expires: 60000 },
    { "alternate-exchange": "e2" },
    { "ha-mode": "all" },
    { "max-lenght": 1 },
    {},
  ),
});

export const metadataCommand: fc.Arbitrary<MetadataCommand> = fc.oneof(
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
  withOptional(
    fc.record({
      type: fc.constant("exchange.declare" as const),
      vhost,
      exchange: exchangeName,
      exchangeType: fc.constantFrom(
        "direct",
        "fanout",
        "topic",
        "headers",
        "x-consistent-hash",
        "x-delayed-message",
        "bogus",
      ),
      durable: fc.boolean(),
      autoDelete: fc.boolean(),
      internal: fc.boolean(),
      arguments: args,
    }),
    { client: fc.constant({}) },
  ),
  fc.record({
    type: fc.constant("exchange.delete" as const),
    vhost,
    exchange: exchangeName,
    ifUnused: fc.boolean(),
  }),
  withOptional(
    fc.record({
      type: fc.constant("queue.declare" as const),
      vhost,
      queue: queueName,
      durable: fc.boolean(),
      exclusive: fc.boolean(),
      autoDelete: fc.boolean(),
      arguments: args,
    }),
    { client },
  ),
  withOptional(fc.record({ type: fc.constant("queue.delete" as const), vhost, queue: queueName }), {
    id: fc.integer({ min: 1, max: 8 }),
    client,
  }),
  fc.record({ type: fc.constant("queues.drop-owned" as const), vhost, owner }),
  withOptional(
    fc.record({
      type: fc.constant("binding.add" as const),
      vhost,
      source: exchangeName,
      destinationKind: fc.constantFrom("queue" as const, "exchange" as const),
      destination: fc.constantFrom("q1", "q2", "e1", "e2", ""),
      routingKey: fc.constantFrom("", "k", "5"),
      arguments: args,
    }),
    { client },
  ),
  fc.record({
    type: fc.constant("binding.remove" as const),
    vhost,
    source: exchangeName,
    destinationKind: fc.constantFrom("queue" as const, "exchange" as const),
    destination: fc.constantFrom("q1", "q2", "e1", "e2"),
    routingKey: fc.constantFrom("", "k", "5"),
    arguments: args,
  }),
  fc.integer({ min: 1, max: 20 }).map((n) => ({ type: "queue-ids.raise" as const, atLeast: n })),
  fc.constant({ type: "definitions.save" as const }),
) as fc.Arbitrary<MetadataCommand>;

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
