import { randomBytes } from "node:crypto";
import { channelError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Queue } from "../../queue/queue-type.js";
import { limitErrors, limitReached } from "../../vhost/limits.js";
import { lockedQueueError } from "../../vhost/virtual-host.js";
import type { Channel } from "../channel.js";
import {
  checkBindingPermissions,
  checkDeadLetterPermissions,
  checkPermission,
} from "../permissions.js";
import { isReplyQueue } from "./direct-reply-to.js";
import { validateQueueArguments } from "./queue-arguments.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/** RabbitMQ's server-generated queue names: "amq.gen-" and 22 URL-safe base64 characters. */
export function generatedQueueName(): string {
  return `amq.gen-${randomBytes(16).toString("base64url")}`;
}

/** An empty queue name means the channel's last declared queue (AMQP 0-9-1 queue.bind, basic.consume). */
export function resolveQueueName(ch: Channel, name: string): string {
  if (name !== "") return name;
  if (ch.lastQueueName === undefined) {
    throw channelError(ReplyCode.NOT_FOUND, "no previously declared queue");
  }
  return ch.lastQueueName;
}

/** The named queue, checked for existence and for another connection's exclusivity. */
export function lookupQueue(ch: Channel, name: string): Queue {
  const queue = ch.vhost.requireQueue(resolveQueueName(ch, name));
  ch.vhost.assertNotLocked(queue, ch.conn);
  return queue;
}

export function queueDeclare(ch: Channel, m: M<"queue.declare">): void | Promise<void> {
  const vhost = ch.vhost;
  let queue: Queue;
  if (m.passive && isReplyQueue(ch, m.queue)) {
    // The reply pseudo-queue "exists" with one consumer (RabbitMQ direct reply-to).
    ch.send({ name: "queue.declare-ok", queue: m.queue, messageCount: 0, consumerCount: 1 });
    return;
  }
  if (m.passive) {
    // No empty-name shortcut for queue.declare: a passive declare of "" is a plain 404.
    queue = ch.vhost.requireQueue(m.queue);
    ch.vhost.assertNotLocked(queue, ch.conn);
  } else {
    const name = m.queue === "" ? generatedQueueName() : m.queue;
    if (m.queue !== "" && name.startsWith("amq.")) {
      throw channelError(
        ReplyCode.ACCESS_REFUSED,
        `queue name '${name}' contains reserved prefix 'amq.*'`,
      );
    }
    checkPermission(ch, "configure", "queue", name);
    const definition = {
      name,
      vhost: vhost.name,
      durable: m.durable,
      exclusive: m.exclusive,
      autoDelete: m.autoDelete,
      arguments: m.arguments,
    };
    const existing = vhost.queues.get(name);
    if (existing && m.exclusive !== (existing.exclusiveOwner !== null)) {
      // The exclusive flag differs (either way): RabbitMQ answers 405 as for a locked queue.
      throw lockedQueueError(name, vhost.name);
    }
    if (!existing) {
      checkDeadLetterPermissions(ch, name, m.arguments);
      validateQueueArguments(definition, vhost.queueTypes);
      const limit = vhost.limits.maxQueues;
      if (limitReached(limit, vhost.queues.size)) {
        ch.conn.broker.counters.refusedByLimit.vhost_queues++;
        throw limitErrors.vhostQueues(name, vhost.name, limit);
      }
    }
    queue = vhost.declareQueue(definition, ch.conn, ch.now);
    if (!existing) {
      ch.conn.broker.counters.queuesDeclared++;
      queue.definitionsVersion = ch.conn.broker.definitionsVersion;
    }
  }
  queue.declared(ch.now);
  ch.lastQueueName = queue.name;
  const declared = queue;
  const reply = () => {
    if (m.noWait) return;
    ch.send({
      name: "queue.declare-ok",
      queue: declared.name,
      messageCount: declared.messageCount,
      consumerCount: declared.consumerCount,
    });
  };
  // The reply waits until the queue is on disk, not for everyone else's pending changes:
  // a passive or repeated declare (an RPC client's reply queue, a health check) is
  // answered at once while others' declarations are being saved.
  if (!declared.isDurable) {
    reply();
    return;
  }
  return ch.afterDefinitionsSaved(reply, declared.definitionsVersion);
}

export function queueBind(ch: Channel, m: M<"queue.bind">): void | Promise<void> {
  const vhost = ch.vhost;
  const queueName = resolveQueueName(ch, m.queue);
  // AMQP 0-9-1 queue.bind: empty queue and routing key mean "bind by the last queue's name".
  const routingKey = m.queue === "" && m.routingKey === "" ? queueName : m.routingKey;
  checkBindingPermissions(ch, m.exchange, { kind: "queue", name: queueName }, routingKey);
  const queue = lookupQueue(ch, queueName);
  const exchange = vhost.requireExchange(m.exchange);
  vhost.bind(exchange, queue, routingKey, m.arguments);
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "queue.bind-ok" });
  });
}

export function queueUnbind(ch: Channel, m: M<"queue.unbind">): void | Promise<void> {
  const vhost = ch.vhost;
  const queueName = resolveQueueName(ch, m.queue);
  // The same shortcut as queue.bind: empty queue and routing key unbind by the last queue's name.
  const routingKey = m.queue === "" && m.routingKey === "" ? queueName : m.routingKey;
  checkBindingPermissions(ch, m.exchange, { kind: "queue", name: queueName }, routingKey);
  // Unbinding succeeds even when the queue, exchange or binding is missing, and is
  // allowed on another connection's exclusive queue (RabbitMQ).
  const queue = vhost.queues.get(queueName);
  const exchange = vhost.exchange(m.exchange);
  if (queue && exchange) vhost.unbind(exchange, queue, routingKey, m.arguments);
  return ch.afterDefinitionsSaved(() => ch.send({ name: "queue.unbind-ok" }));
}

export function queuePurge(ch: Channel, m: M<"queue.purge">): void {
  const queueName = resolveQueueName(ch, m.queue);
  checkPermission(ch, "read", "queue", queueName);
  const queue = lookupQueue(ch, queueName);
  const count = queue.purge();
  if (!m.noWait) ch.send({ name: "queue.purge-ok", messageCount: count });
}

export function queueDelete(ch: Channel, m: M<"queue.delete">): void | Promise<void> {
  const vhost = ch.vhost;
  const queueName = resolveQueueName(ch, m.queue);
  checkPermission(ch, "configure", "queue", queueName);
  const queue = vhost.queues.get(queueName);
  let count = 0;
  if (queue) {
    vhost.assertNotLocked(queue, ch.conn);
    ch.holdCancels();
    try {
      count = vhost.deleteQueue(queue, m.ifUnused, m.ifEmpty);
    } catch (e) {
      ch.releaseCancels();
      throw e;
    }
  }
  // Deleting a queue that does not exist succeeds (RabbitMQ 3.x and later).
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "queue.delete-ok", messageCount: count });
    ch.releaseCancels();
  });
}
