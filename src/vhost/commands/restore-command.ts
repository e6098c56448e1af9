import { fromTaggedJson } from "../../protocol/field-table-json.js";
import { DELAYED_TYPE, type ExchangeDefinition } from "../../routing/exchange.js";
import type { DefinitionsSnapshot } from "../../store/definitions-store.js";
import { assertExchangeEquivalent } from "../equivalence.js";
import type { Policy } from "../policies.js";
import { validateBinding } from "./binding-commands.js";
import { Changes } from "./changes.js";
import type { DefinitionsRestore, Results } from "./command-types.js";
import type { CommandOutcome } from "./effects.js";
import { checkNewExchange } from "./exchange-commands.js";
import type { BindingMeta, ExchangeMeta, MetadataState, QueueMeta } from "./metadata-state.js";
import { removeQueue } from "./topology-changes.js";
import { newVhost } from "./vhost-commands.js";

type Snapshot = DefinitionsSnapshot;

function exchangeDefinition(e: Snapshot["exchanges"][number]): ExchangeDefinition {
  return {
    name: e.name,
    vhost: e.vhost,
    type: e.type,
    durable: true,
    autoDelete: e.autoDelete,
    internal: e.internal,
    arguments: fromTaggedJson(e.arguments),
  };
}

function bindingMeta(b: Snapshot["bindings"][number]): BindingMeta {
  return {
    source: b.source,
    destinationKind: b.destinationType,
    destination: b.destination,
    routingKey: b.routingKey,
    arguments: fromTaggedJson(b.arguments),
  };
}

/**
 * What could refuse the snapshot, checked before anything changes: its exchanges
 * against those already there (and each other), its bindings against their exchange
 * types. The file was written by a node, so this only fails on a damaged or foreign
 * one; the node then refuses to start, naming the file.
 */
function checkSnapshot(state: MetadataState, snapshot: Snapshot): Map<string, ExchangeMeta> {
  const exchanges = new Map<string, ExchangeMeta>();
  const known = (vhost: string, name: string) =>
    exchanges.get(`${vhost}\u0000${name}`) ?? state.vhosts.get(vhost)?.exchanges.get(name);
  const hasVhost = (name: string) =>
    state.vhosts.has(name) || snapshot.vhosts.some((v) => v.name === name);
  for (const e of snapshot.exchanges) {
    if (!hasVhost(e.vhost)) continue;
    const def = exchangeDefinition(e);
    const existing = known(e.vhost, e.name);
    if (existing) assertExchangeEquivalent(existing.definition, def);
    else {
      checkNewExchange(def);
      exchanges.set(`${e.vhost}\u0000${e.name}`, { definition: def, storeId: 0 });
    }
  }
  for (const b of snapshot.bindings) {
    const source = known(b.vhost, b.source);
    if (source) validateBinding(source, bindingMeta(b));
  }
  return exchanges;
}

/**
 * Installs definitions: definitions.json at start, a cluster's snapshot later. What
 * the snapshot names replaces what the state has under the same name, except
 * exchanges, which must be equivalent (as a redeclaration). Vhosts and exchanges it
 * names that are not there are created; bindings whose ends are missing are skipped.
 */
export function restoreDefinitions(
  state: MetadataState,
  { snapshot, home }: DefinitionsRestore,
): CommandOutcome<Results["definitions.restore"]> {
  const newExchanges = checkSnapshot(state, snapshot);
  const changes = new Changes();
  state.nextQueueId = Math.max(state.nextQueueId, snapshot.nextQueueId);
  for (const v of snapshot.vhosts) {
    let vhost = state.vhosts.get(v.name);
    if (vhost) changes.push({ kind: "policies.apply", vhost: v.name });
    else {
      vhost = newVhost(v.name, changes);
      state.vhosts.set(v.name, vhost);
    }
    if (v.defaultQueueType) vhost.defaultQueueType = v.defaultQueueType;
    vhost.unroutableQueue = v.unroutableQueue;
    vhost.limits = { ...v.limits };
  }
  restoreAccess(state, snapshot);
  for (const e of snapshot.exchanges) {
    const vhost = state.vhosts.get(e.vhost);
    const exchange = newExchanges.get(`${e.vhost}\u0000${e.name}`);
    if (!vhost || !exchange || vhost.exchanges.has(e.name)) continue;
    const storeId =
      exchange.definition.type === DELAYED_TYPE ? (e.storeId ?? state.nextQueueId++) : 0;
    const made = { ...exchange, storeId };
    vhost.exchanges.set(e.name, made);
    changes.push({ kind: "exchange.create", vhost: e.vhost, exchange: made });
  }
  restoreQueues(state, snapshot, changes, home);
  for (const b of snapshot.bindings) {
    const vhost = state.vhosts.get(b.vhost);
    const binding = bindingMeta(b);
    const ends =
      vhost?.exchanges.has(b.source) &&
      (b.destinationType === "queue" ? vhost.queues : vhost.exchanges).has(b.destination);
    if (!vhost || !ends || vhost.bindings.find(binding)) continue;
    vhost.bindings.add(binding);
    changes.push({ kind: "binding.add", vhost: b.vhost, binding });
  }
  changes.persist();
  return changes.done({});
}

function restoreAccess(state: MetadataState, snapshot: Snapshot): void {
  // Policies before queues and exchanges, so each starts with its settings.
  for (const p of snapshot.policies ?? []) state.policies.set("policy", { ...(p as Policy) });
  for (const p of snapshot.operatorPolicies ?? [])
    state.policies.set("operator_policy", { ...(p as Policy) });
  for (const u of snapshot.users) {
    state.users.users.set(u.name, {
      name: u.name,
      passwordHash: u.passwordHash,
      hashingAlgorithm: u.hashingAlgorithm,
      tags: u.tags,
      limits: u.limits,
    });
  }
  for (const p of snapshot.permissions) {
    state.users.setPermission(p.vhost, p.user, {
      configure: p.configure,
      write: p.write,
      read: p.read,
    });
  }
  for (const p of snapshot.topicPermissions ?? []) {
    state.users.setTopicPermission(p.vhost, p.user, {
      exchange: p.exchange,
      write: p.write,
      read: p.read,
    });
  }
}

function restoreQueues(
  state: MetadataState,
  snapshot: Snapshot,
  changes: Changes,
  home: string | undefined,
): void {
  for (const q of snapshot.queues) {
    const vhost = state.vhosts.get(q.vhost);
    if (!vhost) continue;
    const queue: QueueMeta = {
      definition: {
        name: q.name,
        vhost: q.vhost,
        durable: true,
        exclusive: false,
        autoDelete: q.autoDelete,
        arguments: fromTaggedJson(q.arguments),
      },
      id: q.id,
      owner: undefined,
      ...(home === undefined ? {} : { home }),
    };
    const replaced = vhost.queues.get(q.name);
    if (replaced?.id === q.id) continue;
    if (replaced) removeQueue(vhost, replaced, changes);
    vhost.queues.set(q.name, queue);
    changes.push({ kind: "queue.create", vhost: q.vhost, queue, restored: true });
  }
}
