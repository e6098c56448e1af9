import { PRODUCT, VERSION } from "../../version.js";
import type { User } from "../../vhost/users.js";
import { canAccessVhost, seesAllVhosts, seesUser } from "../http/auth.js";
import type { NodeContext } from "../node-context.js";
import { socketsLimitFor } from "../process-facts.js";
import { vhostTotals } from "./access-view.js";
import {
  localClusterFields,
  peerNodeView,
  type SeenCluster,
  seenCluster,
} from "./cluster-view-json.js";
import { details, type Json, RABBITMQ_API_VERSION, sorted } from "./format.js";
import { queueCounts } from "./queue-view.js";

const EXCHANGE_TYPES = [
  ["direct", "AMQP direct exchange, as per the AMQP specification"],
  ["fanout", "AMQP fanout exchange, as per the AMQP specification"],
  ["headers", "AMQP headers exchange, as per the AMQP specification"],
  ["topic", "AMQP topic exchange, as per the AMQP specification"],
].map(([name, description]) => ({ name, description, enabled: true }));

const PURPOSES: Record<string, string> = {
  amqp: "AMQP 0-9-1",
  "amqp/ssl": "AMQP 0-9-1 over TLS",
  http: "HTTP API",
  "http/prometheus": "Prometheus exporter API over HTTP",
};

/** Totals over every queue: depths and memory. */
export function queueTotals(ctx: NodeContext) {
  let ready = 0;
  let unacked = 0;
  let queues = 0;
  let bytesRam = 0;
  let indexBytes = 0;
  let acked = 0;
  for (const vhost of ctx.broker.vhosts.values()) {
    for (const q of vhost.queues.values()) {
      const s = q.stats();
      const c = queueCounts(s);
      queues++;
      ready += c.ready;
      unacked += c.unacked;
      bytesRam += c.bytesRam;
      indexBytes += c.pagedOut * 41;
      acked += s.acked;
    }
  }
  return { ready, unacked, queues, bytesRam, indexBytes, acked };
}

/** Descriptor and socket counts in RabbitMQ's terms (sockets are AMQP client connections). */
export function fileDescriptors(ctx: NodeContext) {
  const f = ctx.processFacts();
  return {
    total_limit: f.fdLimit,
    total_used: f.fdUsed,
    // The monitor's allowance: the limit less what it keeps for files (descriptor-budget.ts).
    sockets_limit: ctx.broker.resources?.socketsLimit ?? socketsLimitFor(f.fdLimit),
    sockets_used: ctx.connections().length,
    ...(ctx.broker.resources?.fdReserve
      ? { reserved_for_files: ctx.broker.resources.fdReserve }
      : {}),
  };
}

function listenerList(ctx: NodeContext): Json[] {
  const node = ctx.broker.settings.nodeName;
  return ctx.listeners().map((l) => ({
    node,
    protocol: l.protocol,
    ip_address: l.host,
    port: l.port,
    socket_opts: {},
  }));
}

function objectTotals(ctx: NodeContext) {
  let exchanges = 0;
  let queues = 0;
  let consumers = 0;
  for (const v of ctx.broker.vhosts.values()) {
    exchanges += v.exchanges.size;
    queues += v.queues.size;
    for (const q of v.queues.values()) consumers += q.consumerCount;
  }
  let channels = 0;
  const connections = ctx.connections();
  for (const c of connections) channels += c.channels.size;
  return { channels, connections: connections.length, consumers, exchanges, queues };
}

/**
 * GET /api/overview. A user without the monitoring or administrator tag sees only what
 * is in the vhosts it has permissions in, as RabbitMQ's rabbit_mgmt_wm_overview and
 * rabbit_mgmt_db:overview(User, ...) do: message stats, queue totals, queues and
 * exchanges of those vhosts; only its own connections and channels; no consumer count,
 * node, listeners or contexts.
 */
export function overviewView(ctx: NodeContext, user?: User): Json {
  if (user && !seesAllVhosts(user)) return restrictedOverview(ctx, user);
  return nodeOverview(ctx);
}

/** What every user sees at the top of the overview. */
function overviewHeader(ctx: NodeContext): Json {
  const b = ctx.broker;
  return {
    management_version: RABBITMQ_API_VERSION,
    rates_mode: "basic",
    sample_retention_policies: { global: [600], basic: [600], detailed: [600] },
    exchange_types: EXCHANGE_TYPES,
    product_version: VERSION,
    product_name: PRODUCT,
    rabbitmq_version: RABBITMQ_API_VERSION,
    cluster_name: b.settings.clusterName,
    erlang_version: process.versions.node,
    erlang_full_version: `Node.js ${process.version}`,
    disable_stats: false,
    enable_queue_totals: true,
  };
}

/** Connection and channel churn, node-wide for every user (as RabbitMQ's churn_rates). */
function churnRates(ctx: NodeContext): Json {
  const k = ctx.broker.counters;
  const h = ctx.history;
  return {
    channel_closed: k.channelsClosed,
    channel_closed_details: details(h.counterRate("channelsClosed")),
    channel_created: k.channelsOpened,
    channel_created_details: details(h.counterRate("channelsOpened")),
    connection_closed: k.connectionsClosed,
    connection_closed_details: details(h.counterRate("connectionsClosed")),
    connection_created: k.connectionsOpened,
    connection_created_details: details(h.counterRate("connectionsOpened")),
    queue_created: k.queuesDeclared,
    queue_created_details: details(h.counterRate("queuesDeclared")),
    queue_declared: k.queuesDeclared,
    queue_declared_details: details(h.counterRate("queuesDeclared")),
    queue_deleted: k.queuesDeleted,
    queue_deleted_details: details(h.counterRate("queuesDeleted")),
  };
}

function queueTotalsJson(ready: number, unacked: number): Json {
  return {
    messages: ready + unacked,
    messages_details: details(),
    messages_ready: ready,
    messages_ready_details: details(),
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: details(),
  };
}

/** The overview of a user limited to some vhosts: nothing from the others. */
function restrictedOverview(ctx: NodeContext, user: User): Json {
  const vhosts = [...ctx.broker.vhosts.values()].filter((v) =>
    canAccessVhost(ctx.broker, user, v.name),
  );
  const sum = { ready: 0, unacked: 0, published: 0, delivered: 0, acked: 0, redelivered: 0 };
  let unroutable = 0;
  let queues = 0;
  let exchanges = 0;
  for (const v of vhosts) {
    const t = vhostTotals(v);
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += t[key];
    unroutable += v.unroutable;
    queues += v.queues.size;
    exchanges += v.exchanges.size;
  }
  const own = ctx.connections().filter((c) => seesUser(user, c.user?.name));
  let channels = 0;
  for (const c of own) channels += c.channels.size;
  return {
    ...overviewHeader(ctx),
    // Rates are kept node-wide only, so a limited user gets the totals without them.
    message_stats: {
      publish: sum.published,
      publish_details: details(),
      deliver_get: sum.delivered,
      deliver_get_details: details(),
      redeliver: sum.redelivered,
      redeliver_details: details(),
      ack: sum.acked,
      ack_details: details(),
      drop_unroutable: unroutable,
      drop_unroutable_details: details(),
    },
    churn_rates: churnRates(ctx),
    queue_totals: queueTotalsJson(sum.ready, sum.unacked),
    object_totals: { channels, connections: own.length, exchanges, queues },
    statistics_db_event_queue: 0,
  };
}

function nodeOverview(ctx: NodeContext): Json {
  const b = ctx.broker;
  const k = b.counters;
  const h = ctx.history;
  const t = queueTotals(ctx);
  const node = b.settings.nodeName;
  return {
    ...overviewHeader(ctx),
    message_stats: {
      publish: k.messagesPublished,
      publish_details: details(h.counterRate("messagesPublished")),
      deliver_get: k.messagesDelivered,
      deliver_get_details: details(h.counterRate("messagesDelivered")),
      redeliver: k.messagesRedelivered,
      redeliver_details: details(h.counterRate("messagesRedelivered")),
      ack: t.acked,
      ack_details: details(),
      drop_unroutable: k.messagesUnroutable,
      drop_unroutable_details: details(h.counterRate("messagesUnroutable")),
    },
    churn_rates: churnRates(ctx),
    queue_totals: queueTotalsJson(t.ready, t.unacked),
    object_totals: objectTotals(ctx),
    statistics_db_event_queue: 0,
    node,
    listeners: listenerList(ctx),
    contexts: ctx
      .listeners()
      .filter((l) => l.protocol !== "amqp")
      .map((l) => ({
        node,
        description: l.protocol === "http" ? "Warren Management" : "Warren Prometheus",
        path: "/",
        port: String(l.port),
      })),
  };
}

/**
 * GET /api/nodes: every member of the cluster, this node with its resources, the others
 * with what this node knows of them; a single node lists itself, as always.
 */
export function nodesView(ctx: NodeContext): Json[] {
  const seen = seenCluster(ctx);
  if (!seen.clustered) return [nodeView(ctx)];
  return seen.members.map((m) =>
    m.name === seen.thisNode ? nodeView(ctx, seen) : peerNodeView(seen, m),
  );
}

/** GET /api/nodes/{name}: one node's resources and churn counters. */
export function nodeView(ctx: NodeContext, seen?: SeenCluster): Json {
  const b = ctx.broker;
  const f = ctx.processFacts();
  const fds = fileDescriptors(ctx);
  const k = b.counters;
  const alarms = ctx.alarms();
  return sorted({
    applications: [{ name: "warren", description: PRODUCT, version: VERSION }],
    auth_mechanisms: [
      { name: "PLAIN", description: "SASL PLAIN authentication mechanism", enabled: true },
      { name: "AMQPLAIN", description: "QPid AMQPLAIN mechanism", enabled: true },
    ],
    being_drained: false,
    channel_closed: k.channelsClosed,
    channel_closed_details: details(ctx.history.counterRate("channelsClosed")),
    channel_created: k.channelsOpened,
    channel_created_details: details(ctx.history.counterRate("channelsOpened")),
    config_files: [],
    connection_closed: k.connectionsClosed,
    connection_closed_details: details(ctx.history.counterRate("connectionsClosed")),
    connection_created: k.connectionsOpened,
    connection_created_details: details(ctx.history.counterRate("connectionsOpened")),
    contexts: [],
    db_dir: ctx.dataDir,
    disk_free: f.diskFreeBytes,
    disk_free_details: details(),
    disk_free_alarm: alarms.some((a) => a.resource === "disk"),
    disk_free_limit: f.diskFreeLimitBytes,
    enabled_plugins: ["rabbitmq_management", "rabbitmq_prometheus"],
    exchange_types: EXCHANGE_TYPES,
    fd_total: fds.total_limit,
    fd_used: fds.total_used,
    fd_used_details: details(),
    log_files: ["<stdout>"],
    mem_alarm: alarms.some((a) => a.resource === "memory"),
    mem_calculation_strategy: "rss",
    mem_limit: f.memoryLimitBytes,
    mem_used: f.memory.rss,
    mem_used_details: details(),
    name: b.settings.nodeName,
    net_ticktime: 0,
    os_pid: String(f.pid),
    partitions: [],
    processors: f.processors,
    queue_created: k.queuesDeclared,
    queue_created_details: details(ctx.history.counterRate("queuesDeclared")),
    queue_declared: k.queuesDeclared,
    queue_declared_details: details(ctx.history.counterRate("queuesDeclared")),
    queue_deleted: k.queuesDeleted,
    queue_deleted_details: details(ctx.history.counterRate("queuesDeleted")),
    rates_mode: "basic",
    run_queue: 0,
    running: true,
    sockets_total: fds.sockets_limit,
    sockets_used: fds.sockets_used,
    sockets_used_details: details(),
    type: "disc",
    uptime: f.uptimeMs,
    ...(seen?.clustered ? localClusterFields(seen) : {}),
  });
}

export { PURPOSES };
