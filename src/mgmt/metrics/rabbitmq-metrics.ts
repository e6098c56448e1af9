import type { MessageQueue } from "../../queue/message-queue.js";
import { VERSION } from "../../version.js";
import type { NodeContext } from "../node-context.js";
import { socketsLimitFor } from "../process-facts.js";
import { RABBITMQ_API_VERSION } from "../views/format.js";
import { queueCounts } from "../views/queue-view.js";
import type { Exposition, Sample } from "./exposition.js";

type QueueMetric = [name: string, help: string, value: (q: MessageQueue) => number];

/** rabbitmq_prometheus's queue families (queue_coarse_metrics and queue_metrics). */
const QUEUE_METRICS: QueueMetric[] = [
  [
    "rabbitmq_queue_messages_ready",
    "Messages ready to be delivered to consumers",
    (q) => q.messageCount,
  ],
  [
    "rabbitmq_queue_messages_unacked",
    "Messages delivered to consumers but not yet acknowledged",
    (q) => q.unacked,
  ],
  [
    "rabbitmq_queue_messages",
    "Sum of ready and unacknowledged messages - total queue depth",
    (q) => q.messageCount + q.unacked,
  ],
  ["rabbitmq_queue_consumers", "Consumers on a queue", (q) => q.consumerCount],
  [
    "rabbitmq_queue_process_memory_bytes",
    "Memory in bytes used by the queue (an estimate)",
    (q) => queueCounts(q).memory,
  ],
  [
    "rabbitmq_queue_messages_ram",
    "Ready and unacknowledged messages stored in memory",
    (q) => queueCounts(q).readyRam + q.unacked,
  ],
  [
    "rabbitmq_queue_messages_ram_bytes",
    "Size of ready and unacknowledged messages stored in memory",
    (q) => queueCounts(q).bytesRam,
  ],
  [
    "rabbitmq_queue_messages_ready_ram",
    "Ready messages stored in memory",
    (q) => queueCounts(q).readyRam,
  ],
  [
    "rabbitmq_queue_messages_unacked_ram",
    "Unacknowledged messages stored in memory",
    (q) => q.unacked,
  ],
  [
    "rabbitmq_queue_messages_bytes",
    "Size in bytes of ready and unacknowledged messages",
    (q) => q.ready.bytes + q.unackedBytes,
  ],
  ["rabbitmq_queue_messages_ready_bytes", "Size in bytes of ready messages", (q) => q.ready.bytes],
  [
    "rabbitmq_queue_messages_unacked_bytes",
    "Size in bytes of all unacknowledged messages",
    (q) => q.unackedBytes,
  ],
  [
    "rabbitmq_queue_messages_paged_out",
    "Messages paged out to disk",
    (q) => queueCounts(q).pagedOut,
  ],
  [
    "rabbitmq_queue_messages_paged_out_bytes",
    "Size in bytes of messages paged out to disk",
    (q) => queueCounts(q).bytesPagedOut,
  ],
];

function allQueues(ctx: NodeContext): MessageQueue[] {
  return [...ctx.broker.vhosts.values()].flatMap((v) => [...v.queues.values()]);
}

function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}

/**
 * The families of RabbitMQ's /metrics (aggregated: one sample per family) and
 * /metrics/per-object (queue families per {vhost, queue}), with rabbitmq_prometheus's
 * names, types and help texts, so its Grafana dashboards and alert rules work.
 */
export function writeRabbitMetrics(exp: Exposition, ctx: NodeContext, perObject: boolean): void {
  const b = ctx.broker;
  const k = b.counters;
  const f = ctx.processFacts();
  const conns = ctx.connections();
  const channels = conns.flatMap((c) => [...c.channels.values()]);
  const queues = allQueues(ctx);
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
      socketsLimitFor(f.fdLimit),
    )
    .single(
      "rabbitmq_resident_memory_limit_bytes",
      "gauge",
      "Memory high watermark in bytes",
      f.totalSystemMemoryBytes,
    )
    .single(
      "rabbitmq_disk_space_available_limit_bytes",
      "gauge",
      "Free disk space low watermark in bytes",
      0,
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

  for (const [name, help, value] of QUEUE_METRICS) {
    const samples: Sample[] = perObject
      ? queues.map((q) => ({
          labels: { vhost: q.definition.vhost, queue: q.name },
          value: value(q),
        }))
      : [{ value: sum(queues.map(value)) }];
    exp.family(name, "gauge", help, samples);
  }

  exp
    .single(
      "rabbitmq_channel_consumers",
      "gauge",
      "Consumers on a channel",
      sum(channels.map((c) => c.consumers.size)),
    )
    .single(
      "rabbitmq_channel_messages_unacked",
      "gauge",
      "Delivered but not yet acknowledged messages",
      sum(channels.map((c) => c.unacked.size)),
    )
    .single(
      "rabbitmq_channel_messages_unconfirmed",
      "gauge",
      "Published but not yet confirmed messages",
      sum(channels.map((c) => c.confirms.outstanding)),
    )
    .single(
      "rabbitmq_channel_messages_uncommitted",
      "gauge",
      "Messages received in a transaction but not yet committed",
      sum(channels.map((c) => c.txActions.filter((a) => a.kind === "publish").length)),
    )
    .single(
      "rabbitmq_channel_acks_uncommitted",
      "gauge",
      "Message acknowledgements in a transaction not yet committed",
      sum(channels.map((c) => c.txPendingTags.size)),
    )
    .single(
      "rabbitmq_consumer_prefetch",
      "gauge",
      "Limit of unacknowledged messages for each consumer",
      sum(channels.map((c) => c.prefetchCount)),
    )
    .single(
      "rabbitmq_channel_prefetch",
      "gauge",
      "Total limit of unacknowledged messages for all consumers on a channel",
      sum(channels.map((c) => c.globalPrefetchCount)),
    )
    .single(
      "rabbitmq_connection_incoming_bytes_total",
      "counter",
      "Total number of bytes received on a connection",
      sum(conns.map((c) => c.stats.recvOct)),
    )
    .single(
      "rabbitmq_connection_outgoing_bytes_total",
      "counter",
      "Total number of bytes sent on a connection",
      sum(conns.map((c) => c.stats.sendOct)),
    )
    .single(
      "rabbitmq_connection_incoming_packets_total",
      "counter",
      "Total number of packets received on a connection",
      sum(conns.map((c) => c.stats.recvCnt)),
    )
    .single(
      "rabbitmq_connection_outgoing_packets_total",
      "counter",
      "Total number of packets sent on a connection",
      sum(conns.map((c) => c.stats.sendCnt)),
    )
    .single(
      "rabbitmq_connection_pending_packets",
      "gauge",
      "Number of packets waiting to be sent on a connection",
      sum(conns.map((c) => c.transport.writableLength)),
    )
    .single("rabbitmq_connection_channels", "gauge", "Channels on a connection", channels.length)
    .single("rabbitmq_connections", "gauge", "Connections currently open", conns.length)
    .single("rabbitmq_channels", "gauge", "Channels currently open", channels.length)
    .single(
      "rabbitmq_consumers",
      "gauge",
      "Consumers currently connected",
      sum(channels.map((c) => c.consumers.size)),
    )
    .single("rabbitmq_queues", "gauge", "Queues available", queues.length);

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
  exp.family("rabbitmq_identity_info", "untyped", "RabbitMQ node & cluster identity info", [
    {
      labels: { rabbitmq_node: b.settings.nodeName, rabbitmq_cluster: b.settings.clusterName },
      value: 1,
    },
  ]);

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
}
