import type { NodeContext } from "../node-context.js";
import type { Exposition, Sample } from "./exposition.js";

/**
 * Warren's own metrics, beyond RabbitMQ's: what the doctor looks at, so the same
 * signals can be graphed and alerted on. Names follow Prometheus conventions
 * (base units, _total for counters).
 */
export function writeWarrenMetrics(exp: Exposition, ctx: NodeContext, perObject: boolean): void {
  const k = ctx.broker.counters;
  const d = ctx.processFacts().eventLoopDelay;
  exp
    .family(
      "warren_event_loop_delay_seconds",
      "gauge",
      "Delay of the broker's event loop over the last minute, by quantile",
      [
        { labels: { quantile: "0.5" }, value: d.p50Ms / 1000 },
        { labels: { quantile: "0.99" }, value: d.p99Ms / 1000 },
        { labels: { quantile: "1" }, value: d.maxMs / 1000 },
      ],
    )
    .single(
      "warren_event_loop_stalls_total",
      "counter",
      "Pauses of the broker's event loop of 100 ms or more (no socket read, no heartbeat sent meanwhile)",
      ctx.stalls?.count ?? 0,
    )
    .single(
      "warren_event_loop_longest_stall_seconds",
      "gauge",
      "The longest pause of the broker's event loop since the node started",
      (ctx.stalls?.worstMs ?? 0) / 1000,
    )
    .single(
      "warren_queue_memory_bytes",
      "gauge",
      "Memory charged to queue entries held in memory (ready, requeued, unacknowledged)",
      ctx.broker.memory.usedBytes,
    )
    .single(
      "warren_queue_memory_budget_bytes",
      "gauge",
      "The node-wide budget for queue entries in memory; beyond it queues page to disk",
      Number.isFinite(ctx.broker.memory.limitBytes) ? ctx.broker.memory.limitBytes : 0,
    )
    .single(
      "warren_missed_heartbeat_closes_total",
      "counter",
      "Connections closed because the client stopped sending heartbeats",
      k.missedHeartbeatCloses,
    )
    .single(
      "warren_connections_in_flow",
      "gauge",
      "Connections not read from now because a queue they publish to falls behind its consumers (publisher flow control)",
      ctx.connections().filter((c) => c.flow.held).length,
    )
    .single(
      "warren_flow_pauses_total",
      "counter",
      "Times a publishing connection was put in flow (held until the queues it publishes to caught up)",
      k.flowPauses,
    )
    .single(
      "warren_flow_seconds_total",
      "counter",
      "Time publishing connections spent in flow, summed over connections",
      k.flowHeldMs / 1000,
    )
    .single(
      "warren_connections_blocked",
      "gauge",
      "Connections not read from now because a resource alarm blocks publishers",
      ctx.connections().filter((c) => c.blockedSinceMs !== undefined).length,
    )
    .single(
      "warren_messages_unroutable_total",
      "counter",
      "Messages published to an exchange that routed them to no queue (returned or dropped)",
      k.messagesUnroutable,
    )
    .single(
      "warren_messages_redelivered_total",
      "counter",
      "Messages delivered again after a requeue (nack, reject, channel or connection close)",
      k.messagesRedelivered,
    )
    .single(
      "warren_store_corrupt_records_total",
      "counter",
      "Damaged message store records found since start (skipped at recovery, or unreadable when read back)",
      ctx.broker.store?.damage.corruptRecords ?? 0,
    )
    .single(
      "warren_store_corrupt_bytes_total",
      "counter",
      "Bytes of damaged message store records skipped since start",
      ctx.broker.store?.damage.skippedBytes ?? 0,
    )
    .single(
      "warren_messages_lost_total",
      "counter",
      "Queue messages lost to damaged store records since start (a message in two queues counts twice)",
      ctx.broker.store?.damage.lostMessages ?? 0,
    )
    .single(
      "warren_store_unwritten_bytes",
      "gauge",
      "Bytes of message store records held in memory because the disk refused them (written when a retry succeeds)",
      ctx.broker.store?.unwrittenBytes ?? 0,
    )
    .single(
      "warren_store_open_files",
      "gauge",
      "Message store files open now (bounded by the read handle cache)",
      ctx.broker.store?.openFiles ?? 0,
    )
    .single(
      "warren_alarms_message_store",
      "untyped",
      "is 1 while the message store cannot write or sync (persistent publishes are refused)",
      ctx.alarms().some((a) => a.resource === "message_store") ? 1 : 0,
    );
  const byReason = (table: Record<string, number>): Sample[] =>
    Object.entries(table).map(([reason, value]) => ({ labels: { reason }, value }));
  exp
    .family(
      "warren_messages_dead_lettered_total",
      "counter",
      "Messages dead-lettered to another exchange, by reason (rejected, expired, maxlen, delivery_limit)",
      byReason(k.deadLetteredByReason),
    )
    .family(
      "warren_messages_discarded_total",
      "counter",
      "Messages that left a queue unacknowledged and went nowhere (no dead-letter exchange, or it routed nowhere), by reason",
      byReason(k.droppedByReason),
    )
    .single(
      "warren_dead_letter_cycles_total",
      "counter",
      "Dead-lettered messages dropped because they would have cycled back to their queue",
      k.deadLetterCycles,
    )
    .single(
      "warren_messages_unroutable_captured_total",
      "counter",
      "Unroutable messages kept in a vhost's capture queue instead of dropped",
      k.unroutableCaptured,
    )
    .single(
      "warren_queues_expired_total",
      "counter",
      "Queues deleted because they were unused past their expiry (x-expires)",
      k.queuesExpired,
    );
  if (perObject) {
    const samples: Sample[] = [];
    for (const v of ctx.broker.vhosts.values()) {
      for (const e of v.exchanges.values()) {
        samples.push({
          labels: { vhost: v.name, exchange: e.name || "amq.default" },
          value: e.unroutable,
        });
      }
    }
    exp.family(
      "warren_exchange_messages_unroutable_total",
      "counter",
      "Messages an exchange routed to no queue",
      samples,
    );
  }
}
