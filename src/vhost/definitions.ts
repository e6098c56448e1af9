import { toTaggedJson } from "../protocol/field-table-json.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { Broker } from "./broker.js";
import { isPredeclaredExchange } from "./commands/exchange-commands.js";
import {
  type BindingMeta,
  type ExchangeMeta,
  isDurableBinding,
  isDurableQueue,
  type QueueMeta,
} from "./commands/metadata-state.js";

/** Everything durable in the broker's definitions, for definitions.json. */
export function buildSnapshot(broker: Broker): DefinitionsSnapshot {
  const state = broker.metadata;
  const snapshot: DefinitionsSnapshot = {
    format: "warren-definitions-1",
    nextQueueId: state.nextQueueId,
    vhosts: [...state.vhosts.values()].map((v) => ({
      name: v.name,
      defaultQueueType: v.defaultQueueType,
      unroutableQueue: v.unroutableQueue,
      limits: Object.keys(v.limits).length ? v.limits : undefined,
    })),
    policies: state.policies.list("policy").map((p) => ({ ...p, definition: { ...p.definition } })),
    operatorPolicies: state.policies
      .list("operator_policy")
      .map((p) => ({ ...p, definition: { ...p.definition } })),
    users: [...state.users.users.values()].map((u) => ({
      name: u.name,
      passwordHash: u.passwordHash,
      hashingAlgorithm: u.hashingAlgorithm,
      tags: u.tags,
      limits: u.limits,
    })),
    permissions: [...state.users.permissions].flatMap(([vhost, byUser]) =>
      [...byUser].map(([user, p]) => ({ user, vhost, ...p })),
    ),
    topicPermissions: [...state.users.topicPermissions].flatMap(([vhost, byUser]) =>
      [...byUser].flatMap(([user, byExchange]) =>
        [...byExchange.values()].map((p) => ({ user, vhost, ...p })),
      ),
    ),
    exchanges: [],
    queues: [],
    bindings: [],
  };
  for (const vhost of state.vhosts.values()) {
    for (const e of vhost.exchanges.values()) {
      const d = e.definition;
      // Not only the predeclared ones: an import may make a durable amq.* exchange.
      if (!d.durable || isPredeclaredExchange(d.name)) continue;
      snapshot.exchanges.push(exchangeRecord(vhost.name, e));
    }
    for (const q of vhost.queues.values()) {
      if (isDurableQueue(q)) snapshot.queues.push(queueRecord(vhost.name, q));
    }
    for (const source of vhost.exchanges.keys()) {
      for (const b of vhost.bindings.fromSource(source)) {
        if (isDurableBinding(vhost, b)) snapshot.bindings.push(bindingRecord(vhost.name, b));
      }
    }
  }
  return snapshot;
}

type Snapshot = DefinitionsSnapshot;

/**
 * One record object per queue, exchange and binding, made on the first save and
 * reused by every later one (definitions never change: a changed object is a new
 * record), so the definitions store can keep their text and a save stays cheap.
 */
const records = new WeakMap<object, object>();

function once<T extends object>(key: object, make: () => T): T {
  let r = records.get(key) as T | undefined;
  if (!r) {
    r = make();
    records.set(key, r);
  }
  return r;
}

function exchangeRecord(vhost: string, e: ExchangeMeta): Snapshot["exchanges"][number] {
  const d = e.definition;
  return once(e, () => ({
    vhost,
    name: d.name,
    type: d.type,
    durable: true,
    autoDelete: d.autoDelete,
    internal: d.internal,
    arguments: toTaggedJson(d.arguments),
    storeId: e.storeId || undefined,
  }));
}

function queueRecord(vhost: string, q: QueueMeta): Snapshot["queues"][number] {
  return once(q, () => ({
    vhost,
    name: q.definition.name,
    id: q.id,
    autoDelete: q.definition.autoDelete,
    arguments: toTaggedJson(q.definition.arguments),
  }));
}

function bindingRecord(vhost: string, b: BindingMeta): Snapshot["bindings"][number] {
  return once(b, () => ({
    vhost,
    source: b.source,
    destination: b.destination,
    destinationType: b.destinationKind,
    routingKey: b.routingKey,
    arguments: toTaggedJson(b.arguments),
  }));
}

/** Rebuilds vhosts, users, permissions, exchanges, queues and bindings from a snapshot. */
export function restoreSnapshot(broker: Broker, snapshot: DefinitionsSnapshot): void {
  broker.submitNow({ type: "definitions.restore", snapshot });
}
