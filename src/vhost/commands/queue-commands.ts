import type { FieldTable } from "../../protocol/field-table.js";
import { fromTaggedJson } from "../../protocol/field-table-json.js";
import type { QueueDefinition } from "../../queue/queue-type.js";
import { queueTypeName } from "../../queue/queue-types.js";
import { assertQueueEquivalent } from "../equivalence.js";
import { limitErrors, limitReached } from "../limits.js";
import { validateQueueArguments } from "../queue-arguments.js";
import { Changes, clientVhost, Refused, unchanged } from "./changes.js";
import type { QueueDeclare, QueueDelete, QueuesDropOwned, Results } from "./command-types.js";
import { type CommandOutcome, CommandRefusedError } from "./effects.js";
import { isDurableQueue, type MetadataState, type QueueMeta } from "./metadata-state.js";
import { lockedFor, lockedQueueError, removeQueue } from "./topology-changes.js";

/** Whether a queue type can hold a queue with these properties (rabbit_queue_type:is_compatible/4). */
function suits(type: string, p: Pick<QueueDeclare, "durable" | "exclusive" | "autoDelete">) {
  // Replicated types (quorum queues, streams) are durable, shared and kept when unused.
  return type === "classic" || (p.durable && !p.exclusive && !p.autoDelete);
}

/**
 * A vhost's default queue type (RabbitMQ 3.13/4, rabbit_amqqueue:augment_declare_args/5):
 * a declaration without x-queue-type in a vhost whose default is another type than
 * classic gets that type written into its arguments, so a later declaration with or
 * without it is equivalent; when its properties do not suit that type (exclusive,
 * auto-delete or non-durable), classic is written instead. Classic vhosts leave the
 * arguments as declared: no x-queue-type is classic (equivalence.ts).
 */
export function withDefaultQueueType(
  args: FieldTable,
  vhostDefault: string,
  p: Pick<QueueDeclare, "durable" | "exclusive" | "autoDelete">,
): FieldTable {
  if (args.has("x-queue-type") || vhostDefault === "classic") return args;
  const type = suits(vhostDefault, p) ? vhostDefault : "classic";
  return new Map(args).set("x-queue-type", { type: "S", value: Buffer.from(type) });
}

/**
 * queue.declare's rules, in RabbitMQ's order: an existing queue must have the same
 * exclusive flag and not be another connection's, and be equivalent (406); a new one
 * must have valid arguments and, for a client, fit the vhost's max-queues limit.
 */
export function declareQueue(
  state: MetadataState,
  c: QueueDeclare,
): CommandOutcome<Results["queue.declare"]> {
  const v = clientVhost(state, c.vhost);
  const definition: QueueDefinition = {
    name: c.queue,
    vhost: c.vhost,
    durable: c.durable,
    exclusive: c.exclusive,
    autoDelete: c.autoDelete,
    arguments: withDefaultQueueType(fromTaggedJson(c.arguments), v.defaultQueueType, c),
  };
  const owner = c.client?.owner;
  const existing = v.queues.get(c.queue);
  if (existing) {
    // The exclusive flag differs (either way): RabbitMQ answers 405 as for a locked queue.
    if (c.exclusive !== (existing.owner !== undefined) || lockedFor(existing, owner))
      throw lockedQueueError(c.queue, c.vhost);
    assertQueueEquivalent(existing.definition, definition);
    return unchanged({ created: false, queue: existing });
  }
  validateQueueArguments(definition, state.queueTypes);
  const limit = v.limits.maxQueues;
  if (c.client && limitReached(limit, v.queues.size))
    throw new Refused(limitErrors.vhostQueues(c.queue, c.vhost, limit), "vhost_queues");
  if (c.exclusive && owner === undefined)
    throw new CommandRefusedError(`exclusive queue '${c.queue}' needs a connection to own it`);
  const queue: QueueMeta = {
    definition,
    id: state.nextQueueId++,
    owner: c.exclusive ? owner : undefined,
    // A redeclaration from another node never moves a queue: only a new one takes it.
    ...(c.home === undefined ? {} : { home: c.home }),
    ...(c.members === undefined || queueTypeName(definition) !== "quorum"
      ? {}
      : { members: c.members }),
  };
  v.queues.set(c.queue, queue);
  const changes = new Changes();
  changes.push({ kind: "queue.create", vhost: v.name, queue, restored: false });
  if (isDurableQueue(queue)) changes.persist();
  return changes.done({ created: true, queue });
}

export function deleteQueue(
  state: MetadataState,
  c: QueueDelete,
): CommandOutcome<Results["queue.delete"]> {
  const v = state.vhosts.get(c.vhost);
  const queue = v?.queues.get(c.queue);
  // Deleting a queue that does not exist succeeds (RabbitMQ 3.x and later).
  if (!v || !queue || (c.id !== undefined && queue.id !== c.id))
    return unchanged({ deleted: false });
  if (c.client && lockedFor(queue, c.client.owner)) throw lockedQueueError(c.queue, c.vhost);
  const changes = new Changes();
  removeQueue(v, queue, changes);
  return changes.done({ deleted: true });
}

export function dropOwnedQueues(
  state: MetadataState,
  c: QueuesDropOwned,
): CommandOutcome<Results["queues.drop-owned"]> {
  const v = state.vhosts.get(c.vhost);
  const owned = [...(v?.queues.values() ?? [])].filter((q) => q.owner === c.owner);
  if (!v || owned.length === 0) return unchanged({ dropped: 0 });
  const changes = new Changes();
  for (const q of owned) removeQueue(v, q, changes);
  return changes.done({ dropped: owned.length });
}
