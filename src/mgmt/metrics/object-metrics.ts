import type { QueueStats } from "../../queue/queue-type.js";
import type { NodeContext } from "../node-context.js";
import type { Exposition, Sample } from "./exposition.js";

type QueueMetric = [name: string, help: string, value: (s: QueueStats) => number];

/** rabbitmq_prometheus's queue families (queue_coarse_metrics and queue_metrics). */
const QUEUE_METRICS: QueueMetric[] = [
  [
    "rabbitmq_queue_messages_ready",
    "Messages ready to be delivered to consumers",
    (s) => s.messagesReady,
  ],
  [
    "rabbitmq_queue_messages_unacked",
    "Messages delivered to consumers but not yet acknowledged",
    (s) => s.messagesUnacknowledged,
  ],
  [
    "rabbitmq_queue_messages",
    "Sum of ready and unacknowledged messages - total queue depth",
    (s) => s.messagesReady + s.messagesUnacknowledged,
  ],
  ["rabbitmq_queue_consumers", "Consumers on a queue", (s) => s.consumers],
  [
    "rabbitmq_queue_process_memory_bytes",
    "Memory in bytes used by the queue (an estimate)",
    (s) => s.memoryBytes,
  ],
  [
    "rabbitmq_queue_messages_ram",
    "Ready and unacknowledged messages stored in memory",
    (s) => s.messagesReadyRam + s.messagesUnacknowledged,
  ],
  [
    "rabbitmq_queue_messages_ram_bytes",
    "Size of ready and unacknowledged messages stored in memory",
    (s) => s.messageBytesRam,
  ],
  [
    "rabbitmq_queue_messages_ready_ram",
    "Ready messages stored in memory",
    (s) => s.messagesReadyRam,
  ],
  [
    "rabbitmq_queue_messages_unacked_ram",
    "Unacknowledged messages stored in memory",
    (s) => s.messagesUnacknowledged,
  ],
  [
    "rabbitmq_queue_messages_bytes",
    "Size in bytes of ready and unacknowledged messages",
    (s) => s.messageBytesReady + s.messageBytesUnacknowledged,
  ],
  [
    "rabbitmq_queue_messages_ready_bytes",
    "Size in bytes of ready messages",
    (s) => s.messageBytesReady,
  ],
  [
    "rabbitmq_queue_messages_unacked_bytes",
    "Size in bytes of all unacknowledged messages",
    (s) => s.messageBytesUnacknowledged,
  ],
  ["rabbitmq_queue_messages_paged_out", "Messages paged out to disk", (s) => s.messagesPagedOut],
  [
    "rabbitmq_queue_messages_paged_out_bytes",
    "Size in bytes of messages paged out to disk",
    (s) => s.messageBytesPagedOut,
  ],
];

export function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}

/**
 * The queue, channel and connection families: one sample each on /metrics
 * (summed, as rabbitmq_prometheus aggregates them), one per queue on
 * /metrics/per-object.
 */
export function writeObjectMetrics(exp: Exposition, ctx: NodeContext, perObject: boolean): void {
  const conns = ctx.connections();
  const channels = conns.flatMap((c) => [...c.channels.values()]);
  // Each node reports the queues that live on it, as rabbitmq_prometheus does: a sum over
  // the cluster's nodes then counts every queue once (stand-ins of other nodes' queues are out).
  const queues = [...ctx.broker.vhosts.values()].flatMap((v) =>
    [...v.queues.values()].filter((q) => !q.remote),
  );
  // One snapshot per queue serves every family.
  const stats = queues.map((q) => q.stats());
  for (const [name, help, value] of QUEUE_METRICS) {
    const samples: Sample[] = perObject
      ? queues.map((q, i) => ({
          labels: { vhost: q.definition.vhost, queue: q.name },
          value: value(stats[i]!),
        }))
      : [{ value: sum(stats.map(value)) }];
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
    .single("rabbitmq_connection_channels", "gauge", "Channels on a connection", channels.length);
}
