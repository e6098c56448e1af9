import { fromTaggedJson, toTaggedJson } from "../protocol/field-table-json.js";
import type { Queue } from "../queue/queue-type.js";
import type { Binding } from "../routing/binding.js";
import type { Exchange } from "../routing/exchange.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { Broker } from "./broker.js";
import type { Policy } from "./policies.js";

/** Whether an exchange or queue is durable as far as definitions go. */
export function isDurableDestination(
  broker: Broker,
  vhost: string,
  kind: "queue" | "exchange",
  name: string,
): boolean {
  const v = broker.vhosts.get(vhost);
  if (!v) return false;
  if (kind === "queue") return v.queues.get(name)?.isDurable ?? false;
  return v.exchanges.get(name)?.definition.durable ?? false;
}

/** Everything durable in the broker, for definitions.json. */
export function buildSnapshot(broker: Broker): DefinitionsSnapshot {
  const snapshot: DefinitionsSnapshot = {
    format: "warren-definitions-1",
    nextQueueId: broker.peekNextQueueId(),
    vhosts: [...broker.vhosts.values()].map((v) => ({
      name: v.name,
      defaultQueueType: v.defaultQueueType,
      unroutableQueue: v.unroutableQueue,
      limits: Object.keys(v.limits).length ? v.limits : undefined,
    })),
    policies: broker.policies
      .list("policy")
      .map((p) => ({ ...p, definition: { ...p.definition } })),
    operatorPolicies: broker.policies
      .list("operator_policy")
      .map((p) => ({ ...p, definition: { ...p.definition } })),
    users: [...broker.users.users.values()].map((u) => ({
      name: u.name,
      passwordHash: u.passwordHash,
      hashingAlgorithm: u.hashingAlgorithm,
      tags: u.tags,
      limits: u.limits,
    })),
    permissions: [...broker.users.permissions].flatMap(([vhost, byUser]) =>
      [...byUser].map(([user, p]) => ({ user, vhost, ...p })),
    ),
    topicPermissions: [...broker.users.topicPermissions].flatMap(([vhost, byUser]) =>
      [...byUser].flatMap(([user, byExchange]) =>
        [...byExchange.values()].map((p) => ({ user, vhost, ...p })),
      ),
    ),
    exchanges: [],
    queues: [],
    bindings: [],
  };
  for (const vhost of broker.vhosts.values()) {
    for (const e of vhost.exchanges.values()) {
      const d = e.definition;
      if (!d.durable || d.name === "" || d.name.startsWith("amq.")) continue;
      snapshot.exchanges.push(exchangeRecord(vhost.name, e));
    }
    for (const q of vhost.queues.values()) {
      if (q.isDurable) snapshot.queues.push(queueRecord(vhost.name, q));
    }
    for (const b of vhost.allBindings()) {
      if (!isDurableDestination(broker, vhost.name, "exchange", b.source)) continue;
      if (!isDurableDestination(broker, vhost.name, b.destination.kind, b.destination.name))
        continue;
      snapshot.bindings.push(bindingRecord(vhost.name, b));
    }
  }
  return snapshot;
}

type Snapshot = DefinitionsSnapshot;

/**
 * One record object per queue, exchange and binding, made on the first save and
 * reused by every later one (they never change: a changed object is a new object),
 * so the definitions store can keep their text and a save stays cheap.
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

function exchangeRecord(vhost: string, e: Exchange): Snapshot["exchanges"][number] {
  const d = e.definition;
  return once(e, () => ({
    vhost,
    name: d.name,
    type: d.type,
    durable: true,
    autoDelete: d.autoDelete,
    internal: d.internal,
    arguments: toTaggedJson(d.arguments),
    storeId: e.delayed ? e.storeId : undefined,
  }));
}

function queueRecord(vhost: string, q: Queue): Snapshot["queues"][number] {
  return once(q, () => ({
    vhost,
    name: q.name,
    id: q.storeId,
    autoDelete: q.definition.autoDelete,
    arguments: toTaggedJson(q.definition.arguments),
  }));
}

function bindingRecord(vhost: string, b: Binding): Snapshot["bindings"][number] {
  return once(b, () => ({
    vhost,
    source: b.source,
    destination: b.destination.name,
    destinationType: b.destination.kind,
    routingKey: b.routingKey,
    arguments: toTaggedJson(b.arguments),
  }));
}

/** Rebuilds vhosts, users, permissions, exchanges, queues and bindings from a snapshot. */
export function restoreSnapshot(broker: Broker, snapshot: DefinitionsSnapshot): void {
  const now = broker.clock();
  broker.raiseNextQueueId(snapshot.nextQueueId);
  for (const v of snapshot.vhosts) {
    const vhost = broker.addVhost(v.name);
    if (v.defaultQueueType) vhost.defaultQueueType = v.defaultQueueType;
    vhost.unroutableQueue = v.unroutableQueue;
    vhost.limits = { ...v.limits };
  }
  // Policies before queues and exchanges, so each starts with its settings.
  for (const p of snapshot.policies ?? []) broker.policies.set("policy", p as Policy);
  for (const p of snapshot.operatorPolicies ?? [])
    broker.policies.set("operator_policy", p as Policy);
  for (const u of snapshot.users) {
    broker.users.users.set(u.name, {
      name: u.name,
      passwordHash: u.passwordHash,
      hashingAlgorithm: u.hashingAlgorithm,
      tags: u.tags,
      limits: u.limits,
    });
  }
  for (const p of snapshot.permissions) {
    broker.users.setPermission(p.vhost, p.user, {
      configure: p.configure,
      write: p.write,
      read: p.read,
    });
  }
  for (const p of snapshot.topicPermissions ?? []) {
    broker.users.setTopicPermission(p.vhost, p.user, {
      exchange: p.exchange,
      write: p.write,
      read: p.read,
    });
  }
  for (const e of snapshot.exchanges) {
    broker.vhosts.get(e.vhost)?.declareExchange(
      {
        name: e.name,
        vhost: e.vhost,
        type: e.type,
        durable: true,
        autoDelete: e.autoDelete,
        internal: e.internal,
        arguments: fromTaggedJson(e.arguments),
      },
      e.storeId,
    );
  }
  for (const q of snapshot.queues) {
    broker.vhosts.get(q.vhost)?.restoreQueue(
      {
        name: q.name,
        vhost: q.vhost,
        durable: true,
        exclusive: false,
        autoDelete: q.autoDelete,
        arguments: fromTaggedJson(q.arguments),
      },
      q.id,
      now,
    );
  }
  for (const b of snapshot.bindings) {
    const vhost = broker.vhosts.get(b.vhost);
    const source = vhost?.exchange(b.source);
    const destination =
      b.destinationType === "queue"
        ? vhost?.queues.get(b.destination)
        : vhost?.exchange(b.destination);
    if (vhost && source && destination) {
      vhost.bind(source, destination, b.routingKey, fromTaggedJson(b.arguments));
    }
  }
}
