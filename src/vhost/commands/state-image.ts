import type { TaggedJson } from "../../protocol/field-table-json.js";
import { fromTaggedJson, toTaggedJson } from "../../protocol/field-table-json.js";
import type { VhostLimits } from "../limits.js";
import type { Policy } from "../policies.js";
import type { Permission, TopicPermission, User } from "../users.js";
import type { BindingMeta, ExchangeMeta, MetadataState, QueueMeta } from "./metadata-state.js";

/*
 * The whole metadata state as plain JSON data: what a cluster's metadata snapshot holds.
 * Unlike definitions.json (`definitions.buildSnapshot`, the durable part only) it keeps
 * everything the state keeps, transient and exclusive queues with their owners included,
 * in the state's own order, so a node restored from it holds a state equal to the one
 * that was captured (the maps and binding table list in the same order).
 */

type Args = Record<string, TaggedJson>;

export interface ExchangeImage {
  readonly name: string;
  readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: Args;
  readonly storeId: number;
}

export interface QueueImage {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: Args;
  readonly id: number;
  readonly owner: string | null;
  readonly home: string | null;
  /** A quorum queue's declared members (absent for other queues and in older images). */
  readonly members?: readonly string[];
}

export interface BindingImage {
  readonly source: string;
  readonly destinationKind: "queue" | "exchange";
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: Args;
}

export interface VhostImage {
  readonly name: string;
  readonly defaultQueueType: string;
  readonly unroutableQueue: string | null;
  readonly limits: VhostLimits;
  readonly exchanges: readonly ExchangeImage[];
  readonly queues: readonly QueueImage[];
  readonly bindings: readonly BindingImage[];
}

export interface MetadataImage {
  readonly nextQueueId: number;
  readonly vhosts: readonly VhostImage[];
  readonly users: readonly User[];
  /** vhost -> user -> permission, in the state's order. */
  readonly permissions: readonly (readonly [string, readonly (readonly [string, Permission])[]])[];
  /** vhost -> user -> that user's topic permissions in the vhost. */
  readonly topicPermissions: readonly (readonly [
    string,
    readonly (readonly [string, readonly TopicPermission[]])[],
  ])[];
  readonly policies: readonly Policy[];
  readonly operatorPolicies: readonly Policy[];
}

export function exchangeImage(e: ExchangeMeta): ExchangeImage {
  const d = e.definition;
  return {
    name: d.name,
    type: d.type,
    durable: d.durable,
    autoDelete: d.autoDelete,
    internal: d.internal,
    arguments: toTaggedJson(d.arguments),
    storeId: e.storeId,
  };
}

export function queueImage(q: QueueMeta): QueueImage {
  const d = q.definition;
  return {
    name: d.name,
    durable: d.durable,
    exclusive: d.exclusive,
    autoDelete: d.autoDelete,
    arguments: toTaggedJson(d.arguments),
    id: q.id,
    owner: q.owner ?? null,
    home: q.home ?? null,
    ...(q.members === undefined ? {} : { members: q.members }),
  };
}

export function bindingImage(b: BindingMeta): BindingImage {
  return {
    source: b.source,
    destinationKind: b.destinationKind,
    destination: b.destination,
    routingKey: b.routingKey,
    arguments: toTaggedJson(b.arguments),
  };
}

/** The whole state as JSON-safe data (JSON.stringify of it is the snapshot's body). */
export function captureState(state: MetadataState): MetadataImage {
  return {
    nextQueueId: state.nextQueueId,
    vhosts: [...state.vhosts.values()].map((v) => ({
      name: v.name,
      defaultQueueType: v.defaultQueueType,
      unroutableQueue: v.unroutableQueue ?? null,
      limits: { ...v.limits },
      exchanges: [...v.exchanges.values()].map(exchangeImage),
      queues: [...v.queues.values()].map(queueImage),
      bindings: v.bindings.all().map(bindingImage),
    })),
    users: [...state.users.users.values()].map((u) => ({ ...u, tags: [...u.tags] })),
    // A vhost or user whose last permission went may leave an empty map: that is none.
    permissions: [...state.users.permissions]
      .filter(([, byUser]) => byUser.size > 0)
      .map(
        ([vhost, byUser]) => [vhost, [...byUser].map(([u, p]) => [u, { ...p }] as const)] as const,
      ),
    topicPermissions: [...state.users.topicPermissions].flatMap(([vhost, byUser]) => {
      const users = [...byUser]
        .filter(([, byExchange]) => byExchange.size > 0)
        .map(([u, byExchange]) => [u, [...byExchange.values()]] as const);
      return users.length > 0 ? [[vhost, users] as const] : [];
    }),
    policies: state.policies.list("policy"),
    operatorPolicies: state.policies.list("operator_policy"),
  };
}

export function exchangeMetaOf(vhost: string, e: ExchangeImage): ExchangeMeta {
  return {
    definition: {
      name: e.name,
      vhost,
      type: e.type,
      durable: e.durable,
      autoDelete: e.autoDelete,
      internal: e.internal,
      arguments: fromTaggedJson(e.arguments),
    },
    storeId: e.storeId,
  };
}

export function queueMetaOf(vhost: string, q: QueueImage): QueueMeta {
  return {
    definition: {
      name: q.name,
      vhost,
      durable: q.durable,
      exclusive: q.exclusive,
      autoDelete: q.autoDelete,
      arguments: fromTaggedJson(q.arguments),
    },
    id: q.id,
    owner: q.owner ?? undefined,
    ...(q.home === null || q.home === undefined ? {} : { home: q.home }),
    ...(q.members === undefined ? {} : { members: q.members }),
  };
}

export function bindingMetaOf(b: BindingImage): BindingMeta {
  return {
    source: b.source,
    destinationKind: b.destinationKind,
    destination: b.destination,
    routingKey: b.routingKey,
    arguments: fromTaggedJson(b.arguments),
  };
}

/** The metadata of a group that has committed nothing yet (and of a node after reset). */
export const EMPTY_IMAGE: MetadataImage = {
  nextQueueId: 1,
  vhosts: [],
  users: [],
  permissions: [],
  topicPermissions: [],
  policies: [],
  operatorPolicies: [],
};
