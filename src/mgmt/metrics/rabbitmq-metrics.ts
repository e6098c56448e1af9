import type { QuorumQueueStatus } from "../../quorum/quorum-admin.js";
import { VERSION } from "../../version.js";
import type { NodeContext } from "../node-context.js";
import { socketsLimitFor } from "../process-facts.js";
import { RABBITMQ_API_VERSION } from "../views/format.js";
import { raftGroupsHere, writeRaftMetrics } from "./cluster-metrics.js";
import type { Exposition } from "./exposition.js";
import { sum, writeObjectMetrics } from "./object-metrics.js";

/**
 * The families of RabbitMQ's /metrics (aggregated: one sample per family) and
 * /metrics/per-object (queue families per {vhost, queue}), with rabbitmq_prometheus's
 * names, types and help texts, so its Grafana dashboards and alert rules work.
 */
export function writeRabbitMetrics(
  exp: Exposition,
  ctx: NodeContext,
  perObject: boolean,
  quorum: readonly QuorumQueueStatus[] = ctx.quorum?.list() ?? [],
): void {
  const b = ctx.broker;
  const k = b.counters;
  const f = ctx.processFacts();
  const conns = ctx.connections();
  const channels = conns.flatMap((c) => [...c.channels.values()]);
  // The queues that live on this node (rabbitmq_prometheus counts a node's local queues).
  let queueCount = 0;
  for (const v of b.vhosts.values()) for (const q of v.queues.values()) if (!q.remote) queueCount++;
  const alarms = ctx.alarms();

  exp
    .single(
      "rabbitmq_connections_opened_total",
      "counter",
      "Total number of connections opened",
      k.connectionsOpened,
    )
    .single(
      "rabbitmq_connections_closed_total",
      "counter",
      "Total number of connections closed or terminated",
      k.connectionsClosed,
    )
    .single(
      "rabbitmq_channels_opened_total",
      "counter",
      "Total number of channels opened",
      k.channelsOpened,
    )
    .single(
      "rabbitmq_channels_closed_total",
      "counter",
      "Total number of channels closed",
      k.channelsClosed,
    )
    .single(
      "rabbitmq_queues_declared_total",
      "counter",
      "Total number of queues declared",
      k.queuesDeclared,
    )
    .single(
      "rabbitmq_queues_created_total",
      "counter",
      "Total number of queues created",
      k.queuesDeclared,
    )
    .single(
      "rabbitmq_queues_deleted_total",
      "counter",
      "Total number of queues deleted",
      k.queuesDeleted,
    )
    .single("rabbitmq_process_open_fds", "gauge", "Open file descriptors", f.fdUsed)
    .single("rabbitmq_process_open_tcp_sockets", "gauge", "Open TCP sockets", conns.length)
    .single("rabbitmq_process_resident_memory_bytes", "gauge", "Memory used in bytes", f.memory.rss)
    .single(
      "rabbitmq_disk_space_available_bytes",
      "gauge",
      "Disk space available in bytes",
      f.diskFreeBytes,
    )
    .single("rabbitmq_process_max_fds", "gauge", "Open file descriptors limit", f.fdLimit)
    .single(
      "rabbitmq_process_max_tcp_sockets",
      "gauge",
      "Open TCP sockets limit",
      ctx.broker.resources?.socketsLimit ?? socketsLimitFor(f.fdLimit),
    )
    .single(
      "rabbitmq_resident_memory_limit_bytes",
      "gauge",
      "Memory high watermark in bytes",
      f.memoryLimitBytes,
    )
    .single(
      "rabbitmq_disk_space_available_limit_bytes",
      "gauge",
      "Free disk space low watermark in bytes",
      f.diskFreeLimitBytes,
    )
    .single("rabbitmq_erlang_uptime_seconds", "gauge", "Node uptime", f.uptimeMs / 1000)
    .single(
      "rabbitmq_alarms_file_descriptor_limit",
      "untyped",
      "is 1 if file descriptor limit alarm is in effect",
      alarms.some((a) => a.resource === "file_descriptor_limit") ? 1 : 0,
    )
    .single(
      "rabbitmq_alarms_free_disk_space_watermark",
      "untyped",
      "is 1 if free disk space watermark alarm is in effect",
      alarms.some((a) => a.resource === "disk") ? 1 : 0,
    )
    .single(
      "rabbitmq_alarms_memory_used_watermark",
      "untyped",
      "is 1 if VM memory watermark alarm is in effect",
      alarms.some((a) => a.resource === "memory") ? 1 : 0,
    );
  writeObjectMetrics(exp, ctx, perObject);
  exp
    .single("rabbitmq_connections", "gauge", "Connections currently open", conns.length)
    .single("rabbitmq_channels", "gauge", "Channels currently open", channels.length)
    .single(
      "rabbitmq_consumers",
      "gauge",
      "Consumers currently connected",
      sum(channels.map((c) => c.consumers.size)),
    )
    .single("rabbitmq_queues", "gauge", "Queues available", queueCount);

  exp.family("rabbitmq_build_info", "untyped", "RabbitMQ & Erlang/OTP version info", [
    {
      labels: {
        rabbitmq_version: RABBITMQ_API_VERSION,
        prometheus_plugin_version: RABBITMQ_API_VERSION,
        prometheus_client_version: "warren",
        erlang_version: process.versions.node,
        product_name: "Warren",
        product_version: VERSION,
      },
      value: 1,
    },
  ]);
  const cluster = ctx.cluster?.view();
  exp.family("rabbitmq_identity_info", "untyped", "RabbitMQ node & cluster identity info", [
    {
      labels: {
        rabbitmq_node: b.settings.nodeName,
        rabbitmq_cluster: b.settings.clusterName,
        // Only a cluster has a permanent id (chosen when it formed): one node shows none, as before.
        ...(cluster?.clusterId !== undefined
          ? { rabbitmq_cluster_permanent_id: cluster.clusterId }
          : {}),
      },
      value: 1,
    },
  ]);
  writeRaftMetrics(exp, raftGroupsHere(cluster, quorum), perObject);

  const amqp = { protocol: "amqp091" };
  const classic = { protocol: "amqp091", queue_type: "rabbit_classic_queue" };
  exp
    .family(
      "rabbitmq_global_messages_received_total",
      "counter",
      "Total number of messages received from publishers",
      [{ labels: amqp, value: k.messagesPublished }],
    )
    .family(
      "rabbitmq_global_messages_routed_total",
      "counter",
      "Total number of messages routed to queues or streams",
      [{ labels: amqp, value: k.messagesPublished - k.messagesUnroutable }],
    )
    .family(
      "rabbitmq_global_messages_delivered_total",
      "counter",
      "Total number of messages delivered to consumers",
      [{ labels: classic, value: k.messagesDelivered }],
    )
    .family(
      "rabbitmq_global_messages_redelivered_total",
      "counter",
      "Total number of messages redelivered to consumers",
      [{ labels: classic, value: k.messagesRedelivered }],
    )
    .family("rabbitmq_global_consumers", "gauge", "Current number of consumers", [
      { labels: amqp, value: sum(channels.map((c) => c.consumers.size)) },
    ]);
  writeDeadLetterMetrics(exp, ctx);
}

const DEAD_LETTER_HELP: Record<string, string> = {
  expired: "Total number of messages dead-lettered due to message TTL exceeded",
  rejected: "Total number of messages dead-lettered due to basic.reject or basic.nack",
  maxlen: "Total number of messages dead-lettered due to overflow drop-head or reject-publish-dlx",
  delivery_limit: "Total number of messages dead-lettered due to delivery-limit exceeded",
};

/**
 * rabbitmq_global_messages_dead_lettered_<reason>_total with RabbitMQ's labels:
 * at_most_once counts messages sent to a dead-letter exchange, disabled counts
 * those dropped because the queue has none.
 */
function writeDeadLetterMetrics(exp: Exposition, ctx: NodeContext): void {
  const k = ctx.broker.counters;
  for (const reason of ["expired", "rejected", "maxlen", "delivery_limit"] as const) {
    const labels = (strategy: string) => ({
      queue_type: "rabbit_classic_queue",
      dead_letter_strategy: strategy,
    });
    exp.family(
      `rabbitmq_global_messages_dead_lettered_${reason}_total`,
      "counter",
      DEAD_LETTER_HELP[reason]!,
      [
        { labels: labels("at_most_once"), value: k.deadLetteredByReason[reason] },
        { labels: labels("disabled"), value: k.droppedByReason[reason] },
      ],
    );
  }
}
