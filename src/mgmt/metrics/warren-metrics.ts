import type { BrokerCounters } from "../../vhost/broker.js";
import type { NodeContext } from "../node-context.js";
import type { Exposition, Sample } from "./exposition.js";

/**
 * Dead-letter totals by reason, when the core counts them. RabbitMQ's reasons are
 * rejected, expired, maxlen and delivery_limit; the metric is emitted only once
 * the broker's counters carry them.
 */
function deadLetterSamples(counters: BrokerCounters): Sample[] {
  const byReason = (counters as unknown as { deadLettered?: Record<string, number> }).deadLettered;
  if (!byReason || typeof byReason !== "object") return [];
  return Object.entries(byReason).map(([reason, value]) => ({ labels: { reason }, value }));
}

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
      "warren_missed_heartbeat_closes_total",
      "counter",
      "Connections closed because the client stopped sending heartbeats",
      k.missedHeartbeatCloses,
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
      "warren_alarms_message_store",
      "untyped",
      "is 1 while the message store cannot write or sync (persistent publishes are refused)",
      ctx.alarms().some((a) => a.resource === "message_store") ? 1 : 0,
    );
  const dead = deadLetterSamples(k);
  if (dead.length > 0) {
    exp.family(
      "warren_messages_dead_lettered_total",
      "counter",
      "Messages dead-lettered, by reason (rejected, expired, maxlen, delivery_limit)",
      dead,
    );
  }
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
