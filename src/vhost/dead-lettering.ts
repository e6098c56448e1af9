import { readHeaders } from "../protocol/content-properties.js";
import type { FieldTable } from "../protocol/field-table.js";
import { deadLetterMessage, isDeadLetterCycle } from "../queue/dead-letter.js";
import type { EnqueueOutcome } from "../queue/enqueue-outcome.js";
import type { DiscardReason } from "../queue/queue-hooks.js";
import type { Queue, QueueDelivery } from "../queue/queue-type.js";
import type { Broker } from "./broker.js";

/**
 * What happens to a message a queue let go of without an ack: with a dead-letter
 * exchange it is republished there (x-death updated, cycles cut as RabbitMQ cuts
 * them); without one it is dropped, counted by reason, and logged when the reason
 * is the delivery limit (a poison message an operator wants to hear about). Returns the
 * outcome of the republish (an at-least-once quorum queue settles on it), undefined when the
 * message was dropped.
 */
export function deadLetter(
  broker: Broker,
  queue: Queue,
  entry: QueueDelivery,
  reason: DiscardReason,
): EnqueueOutcome | undefined {
  const settings = queue.settings;
  const vhost = broker.vhosts.get(queue.definition.vhost);
  const dlx = settings.deadLetterExchange;
  const exchange = dlx === undefined ? undefined : vhost?.exchange(dlx);
  if (dlx === undefined || !exchange || !vhost) {
    broker.counters.droppedByReason[reason]++;
    const fields = {
      queue: queue.name,
      vhost: queue.definition.vhost,
      reason,
      messageId: entry.message.id,
    };
    if (dlx !== undefined) {
      broker.log.warn(
        { ...fields, deadLetterExchange: dlx },
        `dead-letter exchange '${dlx}' of queue '${queue.name}' does not exist; message dropped`,
      );
    } else if (reason === "delivery_limit") {
      broker.log.warn(
        fields,
        `message dropped from queue '${queue.name}': delivered ${entry.deliveryCount} times, past its delivery limit`,
      );
    }
    return undefined;
  }
  const now = broker.clock();
  let dl: ReturnType<typeof deadLetterMessage>;
  try {
    dl = deadLetterMessage(
      entry.message,
      reason,
      queue.name,
      dlx,
      settings.deadLetterRoutingKey,
      now,
      broker.newMessageId(),
    );
  } catch (e) {
    // A headers table that cannot be decoded cannot be given an x-death entry.
    broker.counters.droppedByReason[reason]++;
    broker.log.warn(
      { queue: queue.name, reason, err: String(e) },
      `message dropped: its headers could not be read to dead-letter it (${(e as Error).message})`,
    );
    return undefined;
  }
  let headers: FieldTable | undefined;
  const targets = new Set<Queue>();
  for (const routingKey of dl.routingKeys) {
    const input = {
      routingKey,
      headers: () => {
        headers ??= readHeaders(dl.message.properties, dl.message.summary);
        return headers;
      },
    };
    for (const q of vhost.route(exchange, input)) targets.add(q);
  }
  const queues = [...targets].filter((q) => {
    if (!isDeadLetterCycle(reason, dl.message, q.name)) return true;
    broker.counters.deadLetterCycles++;
    broker.log.warn(
      { queue: q.name, from: queue.name, reason },
      `message dropped: dead-letter queues cycle detected (${queue.name} -> ${q.name}, reason ${reason})`,
    );
    return false;
  });
  if (queues.length === 0) {
    broker.counters.droppedByReason[reason]++;
    return undefined;
  }
  broker.counters.deadLetteredByReason[reason]++;
  return broker.enqueue(queues, dl.message, now);
}
