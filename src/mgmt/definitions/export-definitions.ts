import { toPlainJson } from "../../protocol/field-table-json.js";
import { PRODUCT, VERSION } from "../../version.js";
import type { Broker } from "../../vhost/broker.js";
import { limitsByRabbitName, USER_LIMIT_NAMES, VHOST_LIMIT_NAMES } from "../../vhost/limits.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import { RABBITMQ_API_VERSION } from "../views/format.js";

type Json = Record<string, unknown>;

/** Exchanges every vhost has from birth are not exported (RabbitMQ). */
function isPredeclared(name: string): boolean {
  return name === "" || name.startsWith("amq.");
}

function vhostObjects(v: VirtualHost, withVhost: boolean) {
  const tag = (o: Json) => (withVhost ? { ...o, vhost: v.name } : o);
  const queues = [...v.queues.values()]
    .filter((q) => !q.definition.exclusive)
    .map((q) =>
      tag({
        name: q.name,
        durable: q.definition.durable,
        auto_delete: q.definition.autoDelete,
        arguments: toPlainJson(q.definition.arguments),
      }),
    );
  const exchanges = [...v.exchanges.values()]
    .filter((e) => !isPredeclared(e.name))
    .map((e) =>
      tag({
        name: e.name,
        type: e.definition.type,
        durable: e.definition.durable,
        auto_delete: e.definition.autoDelete,
        internal: e.definition.internal,
        arguments: toPlainJson(e.definition.arguments),
      }),
    );
  const exclusive = new Set(
    [...v.queues.values()].filter((q) => q.definition.exclusive).map((q) => q.name),
  );
  const bindings = v
    .allBindings()
    .filter((b) => !(b.destination.kind === "queue" && exclusive.has(b.destination.name)))
    .map((b) =>
      tag({
        source: b.source,
        destination: b.destination.name,
        destination_type: b.destination.kind,
        routing_key: b.routingKey,
        arguments: toPlainJson(b.arguments),
      }),
    );
  return { queues, exchanges, bindings };
}

function header() {
  return {
    rabbit_version: RABBITMQ_API_VERSION,
    rabbitmq_version: RABBITMQ_API_VERSION,
    product_name: PRODUCT,
    product_version: VERSION,
  };
}

/** Vhost limits as RabbitMQ keeps them: the runtime parameter "limits" of component vhost-limits. */
function vhostLimitParameters(vhosts: readonly VirtualHost[]): Json[] {
  return vhosts.flatMap((v) => {
    const value = limitsByRabbitName(v.limits, VHOST_LIMIT_NAMES);
    return Object.keys(value).length > 0
      ? [{ value, vhost: v.name, component: "vhost-limits", name: "limits" }]
      : [];
  });
}

/**
 * The whole node in RabbitMQ's definitions format (GET /api/definitions,
 * `rabbitmqctl export_definitions`): users with their hashes, vhosts, permissions,
 * policies, and every non-exclusive queue, exchange and binding.
 */
export function exportDefinitions(broker: Broker, policies: Json[]): Json {
  const vhosts = [...broker.vhosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  const objects = vhosts.map((v) => vhostObjects(v, true));
  return {
    ...header(),
    users: [...broker.users.users.values()].map((u) => ({
      name: u.name,
      password_hash: u.passwordHash,
      hashing_algorithm: u.hashingAlgorithm,
      tags: u.tags,
      limits: limitsByRabbitName(u.limits, USER_LIMIT_NAMES),
    })),
    vhosts: vhosts.map((v) => {
      const limits = limitsByRabbitName(v.limits, VHOST_LIMIT_NAMES);
      // RabbitMQ 3.10 writes a vhost's limits as a proplist: [] when there are none.
      return {
        name: v.name,
        limits: Object.keys(limits).length > 0 ? limits : [],
        metadata: { description: "", tags: [], default_queue_type: v.defaultQueueType },
      };
    }),
    permissions: [...broker.users.permissions].flatMap(([vhost, byUser]) =>
      [...byUser].map(([user, p]) => ({ user, vhost, ...p })),
    ),
    topic_permissions: [],
    parameters: vhostLimitParameters(vhosts),
    global_parameters: [{ name: "cluster_name", value: broker.settings.clusterName }],
    policies,
    queues: objects.flatMap((o) => o.queues),
    exchanges: objects.flatMap((o) => o.exchanges),
    bindings: objects.flatMap((o) => o.bindings),
  };
}

/** One vhost's definitions (GET /api/definitions/{vhost}): objects without a vhost field. */
export function exportVhostDefinitions(vhost: VirtualHost, policies: Json[]): Json {
  return {
    ...header(),
    parameters: vhostLimitParameters([vhost]).map(({ vhost: _, ...rest }) => rest),
    policies: policies.map(({ vhost: _, ...rest }) => rest),
    ...vhostObjects(vhost, false),
  };
}
