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
  type VhostMeta,
} from "./commands/metadata-state.js";

/** Records made between two yields of the event loop by `buildSnapshotInSlices`. */
const RECORDS_PER_SLICE = 2000;

/** Everything durable in the broker's definitions, for definitions.json, in one go. */
export function buildSnapshot(broker: Broker): DefinitionsSnapshot {
  const snapshot = emptySnapshot(broker);
  for (const _ of fillSnapshot(snapshot, captureTopology(broker))) {
    // No yields: tests and small callers want it now.
  }
  return snapshot;
}

/**
 * The same, with the event loop yielded every few thousand records: the snapshot of
 * 20,000 queues and their bindings takes tens of milliseconds to make (more on the
 * first save, which makes every record), and an import saves many times. The topology
 * is captured first, in one turn (copies of its maps and lists, a few milliseconds for
 * 40,000 objects), so the snapshot is the definitions as they were when the save began;
 * changes made while it is built go to the next save.
 */
export async function buildSnapshotInSlices(
  broker: Broker,
  yieldNow: () => Promise<void>,
): Promise<DefinitionsSnapshot> {
  const snapshot = emptySnapshot(broker);
  for (const _ of fillSnapshot(snapshot, captureTopology(broker))) await yieldNow();
  return snapshot;
}

/** The small sections (vhosts, policies, users, permissions); exchanges, queues and bindings empty. */
function emptySnapshot(broker: Broker): DefinitionsSnapshot {
  const state = broker.metadata;
  return {
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
}

/** One vhost's exchanges, queues and bindings as they were at capture (copies). */
interface CapturedVhost {
  readonly name: string;
  /** For the durability of a binding's ends, as it was at capture. */
  readonly view: Pick<VhostMeta, "exchanges" | "queues">;
  readonly bindings: readonly BindingMeta[];
}

function captureTopology(broker: Broker): CapturedVhost[] {
  return [...broker.metadata.vhosts.values()].map((v) => ({
    name: v.name,
    view: { exchanges: new Map(v.exchanges), queues: new Map(v.queues) },
    bindings: [...v.exchanges.keys()].flatMap((source) => v.bindings.fromSource(source)),
  }));
}

/** Adds the durable records of the captured topology; yields after each slice of them. */
function* fillSnapshot(snapshot: DefinitionsSnapshot, vhosts: CapturedVhost[]): Generator<void> {
  let made = 0;
  for (const vhost of vhosts) {
    for (const e of vhost.view.exchanges.values()) {
      const d = e.definition;
      // Not only the predeclared ones: an import may make a durable amq.* exchange.
      if (!d.durable || isPredeclaredExchange(d.name)) continue;
      snapshot.exchanges.push(exchangeRecord(vhost.name, e));
      if (++made % RECORDS_PER_SLICE === 0) yield;
    }
    for (const q of vhost.view.queues.values()) {
      if (!isDurableQueue(q)) continue;
      snapshot.queues.push(queueRecord(vhost.name, q));
      if (++made % RECORDS_PER_SLICE === 0) yield;
    }
    for (const b of vhost.bindings) {
      if (!isDurableBinding(vhost.view, b)) continue;
      snapshot.bindings.push(bindingRecord(vhost.name, b));
      if (++made % RECORDS_PER_SLICE === 0) yield;
    }
  }
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
