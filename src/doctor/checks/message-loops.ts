import type { QueueDelivery } from "../../queue/queue-type.js";
import { type Check, type Finding, plural, seconds } from "../finding.js";
import { queueKey } from "../history.js";

/** Deliveries of one message that make it a poison message (RabbitMQ's quorum default limit is 20). */
export const POISON_DELIVERIES = 10;

interface Suspect {
  readonly queue: string;
  readonly vhost: string;
  readonly entry: QueueDelivery;
  readonly where: string;
}

/**
 * Seed 004, "Poison messages": one message delivered again and again because its
 * consumer rejects it with requeue, or crashes, every time. Looks at every
 * unacknowledged delivery and at the head of every queue.
 */
export const poisonLoops: Check = {
  id: "poison-messages",
  description: "messages redelivered again and again (a consumer that keeps rejecting or crashing)",
  run(input): Finding[] {
    const suspects = new Map<string, Suspect>();
    const note = (vhost: string, queue: string, entry: QueueDelivery, where: string) => {
      if (entry.deliveryCount < POISON_DELIVERIES) return;
      const key = `${queueKey(vhost, queue)}\u0000${entry.message.id}`;
      if (!suspects.has(key)) suspects.set(key, { queue, vhost, entry, where });
    };
    for (const conn of input.connections) {
      for (const ch of conn.channels.values()) {
        for (const d of ch.unacked.values()) {
          const who = d.consumer ? `consumer '${d.consumer.tag}'` : "basic.get";
          note(
            d.queue.definition.vhost,
            d.queue.name,
            d.entry,
            `held by ${who} on ${conn.name} (user '${conn.user?.name ?? "?"}')`,
          );
        }
      }
    }
    for (const vhost of input.broker.vhosts.values()) {
      for (const q of vhost.queues.values()) {
        const head = q.peekReady(1)[0];
        if (head) note(vhost.name, q.name, head, "waiting at the head of the queue");
      }
    }
    if (suspects.size === 0) return [];
    const list = [...suspects.values()].sort(
      (a, b) => b.entry.deliveryCount - a.entry.deliveryCount,
    );
    const baseline = input.history.firstSince(input.nowMs - input.windowMs);
    const redelivered =
      input.broker.counters.messagesRedelivered - (baseline?.counters.messagesRedelivered ?? 0);
    const worst = list[0]!;
    return [
      {
        check: this.id,
        severity: worst.entry.deliveryCount >= 10 * POISON_DELIVERIES ? "critical" : "warning",
        title: `${plural(list.length, "message")} redelivered ${worst.entry.deliveryCount}${list.length > 1 ? " times or fewer" : " times"}: a poison message loop`,
        evidence: [
          ...list
            .slice(0, 5)
            .map(
              (s) =>
                `message ${s.entry.message.id} in queue '${s.queue}' (vhost '${s.vhost}'): delivered ` +
                `${s.entry.deliveryCount} times, routing key '${s.entry.message.routingKey}', ${s.where}`,
            ),
          `${redelivered} redeliveries in the last ${seconds(input.windowMs)}`,
        ],
        remedy:
          "The consumer rejects (nack with requeue) or crashes on this message every time, so it comes back " +
          "forever and blocks the work behind it. Cap the attempts with a delivery limit (x-delivery-limit or a " +
          "delivery-limit policy) and a dead-letter-exchange to park it, or have the consumer reject it without " +
          "requeue; then fix the consumer's handling of it.",
        seed: "004 (poison messages)",
      },
    ];
  },
};

/**
 * Seed 004, "Unroutable messages" (and 003's alternate exchanges): publishes that
 * reached no queue in the window, by exchange. Without mandatory they are dropped
 * silently; the publisher never learns.
 */
export const unroutableDrops: Check = {
  id: "unroutable",
  description: "messages published to exchanges that route them to no queue",
  run(input): Finding[] {
    const baseline = input.history.firstSince(input.nowMs - input.windowMs);
    const drops: { vhost: string; exchange: string; count: number; total: number }[] = [];
    for (const vhost of input.broker.vhosts.values()) {
      for (const e of vhost.exchanges.values()) {
        const before = baseline?.unroutable.get(queueKey(vhost.name, e.name)) ?? 0;
        if (e.unroutable > before) {
          drops.push({
            vhost: vhost.name,
            exchange: e.name,
            count: e.unroutable - before,
            total: e.unroutable,
          });
        }
      }
    }
    if (drops.length === 0) return [];
    drops.sort((a, b) => b.count - a.count);
    const total = drops.reduce((n, d) => n + d.count, 0);
    return [
      {
        check: this.id,
        severity: "warning",
        title: `${plural(total, "message")} routed to no queue in the last ${seconds(input.windowMs)}`,
        evidence: drops
          .slice(0, 5)
          .map(
            (d) =>
              `exchange '${d.exchange || "amq.default"}' in vhost '${d.vhost}': ${d.count} unroutable (${d.total} since start)`,
          ),
        remedy:
          "No binding matched: the consuming service has not declared its queue or binding yet, or the " +
          "publisher uses a wrong exchange or routing key. Publish with mandatory to learn about it, and set an " +
          "alternate-exchange (as a policy) to keep such messages instead of dropping them.",
        seed: "004 (unroutable messages), 003 (alternate exchanges)",
      },
    ];
  },
};
