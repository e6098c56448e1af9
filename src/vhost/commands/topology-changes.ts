import { channelError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Changes } from "./changes.js";
import {
  type BindingMeta,
  isDurableBinding,
  isDurableQueue,
  type QueueMeta,
  type VhostMeta,
} from "./metadata-state.js";

/*
 * The cascades of RabbitMQ's topology, shared by the commands that remove things:
 * a queue or exchange takes its bindings with it, and an auto-delete exchange goes
 * when its last binding as a source goes. Each removal adds its effects in the order
 * the live topology must be taken down (bindings before the objects they join).
 */

export function removeBinding(v: VhostMeta, b: BindingMeta, changes: Changes): void {
  if (isDurableBinding(v, b)) changes.persist();
  v.bindings.remove(b);
  changes.push({ kind: "binding.remove", vhost: v.name, binding: b });
  const source = v.exchanges.get(b.source);
  if (source?.definition.autoDelete && v.bindings.countFromSource(b.source) === 0)
    removeExchange(v, b.source, changes);
}

export function removeExchange(v: VhostMeta, name: string, changes: Changes): void {
  const exchange = v.exchanges.get(name);
  if (!exchange) return;
  v.exchanges.delete(name);
  for (const b of v.bindings.fromSource(name)) removeBinding(v, b, changes);
  for (const b of v.bindings.toDestination("exchange", name)) removeBinding(v, b, changes);
  changes.push({ kind: "exchange.drop", vhost: v.name, exchange: name });
  if (exchange.definition.durable) changes.persist();
}

export function removeQueue(v: VhostMeta, queue: QueueMeta, changes: Changes): void {
  v.queues.delete(queue.definition.name);
  for (const b of v.bindings.toDestination("queue", queue.definition.name))
    removeBinding(v, b, changes);
  changes.push({ kind: "queue.drop", vhost: v.name, queue });
  if (isDurableQueue(queue)) changes.persist();
}

/** Whether another connection owns this exclusive queue (RabbitMQ's 405 then). */
export function lockedFor(queue: QueueMeta, owner: string | undefined): boolean {
  return queue.owner !== undefined && queue.owner !== owner;
}

export function lockedQueueError(queue: string, vhost: string) {
  return channelError(
    ReplyCode.RESOURCE_LOCKED,
    `cannot obtain exclusive access to locked queue '${queue}' in vhost '${vhost}'. ` +
      "It could be originally declared on another connection or the exclusive property " +
      "value does not match that of the original declaration.",
  );
}
