import { Changes } from "./changes.js";
import type { Effect } from "./effects.js";
import {
  type BindingMeta,
  BindingTable,
  type ExchangeMeta,
  type MetadataState,
  type QueueMeta,
  type VhostMeta,
} from "./metadata-state.js";
import {
  type BindingImage,
  bindingImage,
  bindingMetaOf,
  exchangeImage,
  exchangeMetaOf,
  type MetadataImage,
  queueImage,
  queueMetaOf,
  type VhostImage,
} from "./state-image.js";

/*
 * Replaces a node's whole metadata state with an image (a cluster's snapshot, installed
 * from the leader or read back at start) and returns the effects that bring the live
 * topology along. It is a difference, not a rebuild: what the image holds unchanged keeps
 * its objects (a queue keeps its messages and consumers, a binding its routing entry), and
 * only what differs is taken down or built, in the order the live topology needs (bindings
 * before the objects they join, objects before the bindings that join them). Afterwards the
 * state lists everything in the image's order, so it equals the captured one exactly.
 */

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const bindingKey = (b: BindingImage) => JSON.stringify(b);

export function replaceState(state: MetadataState, image: MetadataImage): readonly Effect[] {
  const changes = new Changes();
  const wanted = new Map(image.vhosts.map((v) => [v.name, v]));
  for (const v of [...state.vhosts.values()]) {
    if (!wanted.has(v.name)) dropVhost(state, v, changes);
  }
  const policiesBefore = policiesByVhost(state);
  replaceAccess(state, image);
  const policiesAfter = policiesByVhost(state);
  const vhosts = image.vhosts.map((vi) => {
    const existing = state.vhosts.get(vi.name);
    if (existing) {
      replaceVhost(existing, vi, changes);
      if (!same(policiesBefore.get(vi.name), policiesAfter.get(vi.name)))
        changes.push({ kind: "policies.apply", vhost: vi.name });
      return existing;
    }
    return createVhost(vi, changes);
  });
  state.vhosts.clear();
  for (const v of vhosts) state.vhosts.set(v.name, v);
  state.nextQueueId = image.nextQueueId;
  changes.persist();
  const outcome = changes.done({});
  return outcome.ok ? outcome.effects : [];
}

/** As vhost.delete: its clients are told, its queues dropped (their messages let go). */
function dropVhost(state: MetadataState, v: VhostMeta, changes: Changes): void {
  changes.push({
    kind: "connections.close",
    vhost: v.name,
    code: 320,
    text: `CONNECTION_FORCED - vhost '${v.name}' is deleted`,
  });
  for (const b of v.bindings.all())
    changes.push({ kind: "binding.remove", vhost: v.name, binding: b });
  for (const q of v.queues.values()) changes.push({ kind: "queue.drop", vhost: v.name, queue: q });
  state.vhosts.delete(v.name);
  changes.push({ kind: "vhost.drop", vhost: v.name });
}

function createVhost(vi: VhostImage, changes: Changes): VhostMeta {
  const v: VhostMeta = {
    name: vi.name,
    defaultQueueType: vi.defaultQueueType,
    unroutableQueue: vi.unroutableQueue ?? undefined,
    limits: { ...vi.limits },
    exchanges: new Map(),
    queues: new Map(),
    bindings: new BindingTable(),
  };
  changes.push({ kind: "vhost.create", vhost: v });
  rebuild(v, vi, new Map(), new Map(), new Map(), changes);
  return v;
}

/** Takes down what differs from the image, then lists and builds everything in its order. */
function replaceVhost(v: VhostMeta, vi: VhostImage, changes: Changes): void {
  const exchanges = keptBy(v.exchanges, vi.exchanges, exchangeImage);
  const queues = keptBy(v.queues, vi.queues, queueImage);
  const wantedBindings = new Set(vi.bindings.map(bindingKey));
  const bindings = new Map<string, BindingMeta>();
  for (const b of v.bindings.all()) {
    const key = bindingKey(bindingImage(b));
    const endsKept =
      exchanges.has(b.source) &&
      (b.destinationKind === "queue" ? queues : exchanges).has(b.destination);
    if (endsKept && wantedBindings.has(key)) bindings.set(key, b);
    else changes.push({ kind: "binding.remove", vhost: v.name, binding: b });
    v.bindings.remove(b);
  }
  for (const [name, e] of v.exchanges) {
    if (exchanges.get(name) !== e)
      changes.push({ kind: "exchange.drop", vhost: v.name, exchange: name });
  }
  for (const [name, q] of v.queues) {
    if (queues.get(name) !== q) changes.push({ kind: "queue.drop", vhost: v.name, queue: q });
  }
  v.defaultQueueType = vi.defaultQueueType;
  v.unroutableQueue = vi.unroutableQueue ?? undefined;
  v.limits = { ...vi.limits };
  rebuild(v, vi, exchanges, queues, bindings, changes);
}

/** The objects of `current` that the image holds unchanged (equal images), by name. */
function keptBy<T>(
  current: ReadonlyMap<string, T>,
  images: readonly { readonly name: string }[],
  imageOf: (t: T) => unknown,
): Map<string, T> {
  const kept = new Map<string, T>();
  const wanted = new Map(images.map((i) => [i.name, JSON.stringify(i)]));
  for (const [name, t] of current)
    if (wanted.get(name) === JSON.stringify(imageOf(t))) kept.set(name, t);
  return kept;
}

/** Lists the image's objects in its order, reusing kept ones and building the rest. */
function rebuild(
  v: VhostMeta,
  vi: VhostImage,
  exchanges: ReadonlyMap<string, ExchangeMeta>,
  queues: ReadonlyMap<string, QueueMeta>,
  bindings: ReadonlyMap<string, BindingMeta>,
  changes: Changes,
): void {
  v.exchanges.clear();
  for (const ei of vi.exchanges) {
    let e = exchanges.get(ei.name);
    if (!e) {
      e = exchangeMetaOf(vi.name, ei);
      changes.push({ kind: "exchange.create", vhost: vi.name, exchange: e });
    }
    v.exchanges.set(ei.name, e);
  }
  v.queues.clear();
  for (const qi of vi.queues) {
    let q = queues.get(qi.name);
    if (!q) {
      q = queueMetaOf(vi.name, qi);
      changes.push({ kind: "queue.create", vhost: vi.name, queue: q, restored: true });
    }
    v.queues.set(qi.name, q);
  }
  for (const bi of vi.bindings) {
    let b = bindings.get(bindingKey(bi));
    if (!b) {
      b = bindingMetaOf(bi);
      changes.push({ kind: "binding.add", vhost: vi.name, binding: b });
    }
    v.bindings.add(b);
  }
}

/** Users, permissions, topic permissions and policies become the image's. */
function replaceAccess(state: MetadataState, image: MetadataImage): void {
  const users = state.users;
  users.users.clear();
  for (const u of image.users) users.users.set(u.name, { ...u, tags: [...u.tags] });
  users.permissions.clear();
  for (const [vhost, byUser] of image.permissions)
    for (const [user, p] of byUser) users.setPermission(vhost, user, { ...p });
  users.topicPermissions.clear();
  for (const [vhost, byUser] of image.topicPermissions)
    for (const [user, list] of byUser)
      for (const p of list) users.setTopicPermission(vhost, user, p);
  for (const kind of ["policy", "operator_policy"] as const) {
    for (const p of state.policies.list(kind)) state.policies.clear(kind, p.vhost, p.name);
  }
  for (const p of image.policies) state.policies.set("policy", { ...p });
  for (const p of image.operatorPolicies) state.policies.set("operator_policy", { ...p });
}

function policiesByVhost(state: MetadataState): Map<string, unknown> {
  const out = new Map<string, unknown[]>();
  for (const kind of ["policy", "operator_policy"] as const) {
    for (const p of state.policies.list(kind)) {
      const list = out.get(p.vhost) ?? [];
      list.push([kind, p]);
      out.set(p.vhost, list);
    }
  }
  return out;
}
