import { channelError, connectionError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Queue, QueueDelivery } from "../../queue/queue-type.js";
import { randomName } from "../../vhost/broker-sources.js";
import type { Channel } from "../channel.js";
import { checkPermission } from "../permissions.js";
import { consumeReplyTo, REPLY_TO_QUEUE } from "./direct-reply-to.js";
import { lookupQueue, resolveQueueName } from "./queue-methods.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/**
 * basic.qos with RabbitMQ's meanings: global=false sets the limit each consumer
 * created afterwards gets; global=true sets one limit shared by the channel's
 * consumers. prefetch_size is not supported by RabbitMQ either.
 */
export function qos(ch: Channel, m: M<"basic.qos">): void {
  if (m.prefetchSize !== 0) {
    throw connectionError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.prefetchSize})`);
  }
  if (m.global) ch.globalPrefetchCount = m.prefetchCount;
  else ch.prefetchCount = m.prefetchCount;
  ch.send({ name: "basic.qos-ok" });
  if (m.global) ch.resumeDeliveries();
}

export function consume(ch: Channel, m: M<"basic.consume">): void {
  const queueName = resolveQueueName(ch, m.queue);
  if (queueName === REPLY_TO_QUEUE) return consumeReplyTo(ch, m);
  checkPermission(ch, "read", "queue", queueName);
  const queue = lookupQueue(ch, queueName);
  const tag = m.consumerTag === "" ? randomName(ch.conn.broker, "amq.ctag-") : m.consumerTag;
  if (ch.consumers.has(tag) || tag === ch.replyConsumerTag) {
    throw connectionError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`);
  }
  if ((m.exclusive && queue.consumerCount > 0) || queue.hasExclusiveConsumer()) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `queue '${queue.name}' in vhost '${ch.vhost.name}' in exclusive use`,
    );
  }
  const priorityArg = m.arguments.get("x-priority");
  const priority =
    priorityArg && "bBUsuIilL".includes(priorityArg.type) ? Number(priorityArg.value) : 0;
  // A queue whose home is down is 404, not a consumer (RabbitMQ answers before consume-ok).
  queue.assertReachable?.();
  // consume-ok goes out before the first delivery.
  if (!m.noWait) ch.send({ name: "basic.consume-ok", consumerTag: tag });
  const consumer = queue.addConsumer(
    {
      tag,
      noAck: m.noAck,
      exclusive: m.exclusive,
      priority,
      prefetchCount: ch.prefetchCount,
      arguments: m.arguments,
    },
    ch,
    ch.now,
  );
  ch.consumers.set(tag, consumer);
}

export function cancel(ch: Channel, m: M<"basic.cancel">): void {
  const consumer = ch.consumers.get(m.consumerTag);
  if (consumer) {
    ch.consumers.delete(m.consumerTag);
    consumer.queue.removeConsumer(consumer, ch.now);
  } else if (m.consumerTag === ch.replyConsumerTag) {
    if (ch.replyKey) ch.conn.broker.replyConsumers.delete(ch.replyKey);
    ch.replyKey = undefined;
    ch.replyConsumerTag = undefined;
  }
  // Cancelling an unknown tag is not an error (RabbitMQ answers cancel-ok).
  if (!m.noWait) ch.send({ name: "basic.cancel-ok", consumerTag: m.consumerTag });
}

export function get(ch: Channel, m: M<"basic.get">): void | Promise<void> {
  const queueName = resolveQueueName(ch, m.queue);
  checkPermission(ch, "read", "queue", queueName);
  const queue = lookupQueue(ch, queueName);
  // A queue on another node answers through its home; the channel waits for it.
  if (queue.fetchAtHome) {
    return queue.fetchAtHome(m.noAck, ch.now).then((entry) => gotten(ch, queue, entry, m.noAck));
  }
  gotten(ch, queue, queue.fetch(m.noAck, ch.now), m.noAck);
}

function gotten(ch: Channel, queue: Queue, entry: QueueDelivery | undefined, noAck: boolean) {
  if (!entry) {
    ch.send({ name: "basic.get-empty" });
    return;
  }
  if (ch.state !== "open" || ch.isReleased) {
    // The channel closed while the home answered: the message goes back.
    if (!noAck) queue.requeue(entry, undefined, ch.now);
    return;
  }
  ch.conn.broker.counters.messagesDelivered++;
  ch.deliverGet(entry, queue, noAck);
}

/**
 * basic.recover: every unacknowledged delivery goes back to its queue, marked
 * redelivered. RabbitMQ implements only requeue=true, and so do we. Deliveries
 * already settled in the open transaction stay with it (commit settles them,
 * rollback makes them outstanding again), as in RabbitMQ.
 */
export function recover(ch: Channel, m: M<"basic.recover"> | M<"basic.recover-async">): void {
  if (!m.requeue) throw connectionError(ReplyCode.NOT_IMPLEMENTED, "requeue=false");
  const deliveries = [...ch.unacked.values()].filter((d) => !ch.txPendingTags.has(d.tag));
  const now = ch.now;
  for (const d of deliveries) {
    ch.forget(d);
    d.queue.requeue(d.entry, d.consumer, now);
  }
  if (m.name === "basic.recover") ch.send({ name: "basic.recover-ok" });
}
