import { enqueueClassic } from "./classic-enqueue.js";
import { MessageQueue } from "./message-queue.js";
import type { QueueHooks } from "./queue-hooks.js";
import type { QueueType } from "./queue-type.js";

/**
 * The classic queue type (RabbitMQ's rabbit_classic_queue): queues on this node,
 * their persistent messages in the node's message store. `hooks` bind them to
 * the store, dead-lettering and the chores of their broker.
 */
export function classicQueueType(hooks: QueueHooks): QueueType {
  return {
    name: "classic",
    create: (c) =>
      new MessageQueue(c.definition, hooks, c.nowMs, c.storeId, c.settings, c.exclusiveOwner),
    // Classic queues were built here, so they are MessageQueues.
    enqueueAll: (queues, message, nowMs) =>
      enqueueClassic(queues as readonly MessageQueue[], message, nowMs, hooks.store),
  };
}
