import { channelError } from "../../protocol/amqp-error.js";
import type { FieldTable } from "../../protocol/field-table.js";
import { toTaggedJson } from "../../protocol/field-table-json.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Queue } from "../../queue/queue-type.js";
import type { Broker } from "../../vhost/broker.js";
import { type BrokerSources, randomName } from "../../vhost/broker-sources.js";
import { type Applied, whenApplied } from "../../vhost/commands/command-submitter.js";
import type {
  BindingAdd,
  BindingRemove,
  ClientRequest,
  QueueDeclare,
  QueueDelete,
} from "../../vhost/commands/command-types.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import type { Channel } from "../channel.js";
import {
  checkBindingPermissions,
  checkDeadLetterPermissions,
  checkPermission,
  type PermissionScope,
} from "../permissions.js";
import { isReplyQueue } from "./direct-reply-to.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/**
 * Who asks for a change: a channel, or the management API acting as the request's
 * user. The functions below also take the owner: the connection that would own an
 * exclusive queue and for which another connection's is locked (the management API
 * has none).
 */
export interface Requester extends PermissionScope {
  readonly conn: PermissionScope["conn"] & { readonly broker: Broker };
  readonly vhost: VirtualHost;
}

/** The requester as a command names it: its connection's owner key, if it has one. */
export function clientRequest(r: Requester, owner: object | undefined): ClientRequest {
  return owner === undefined ? {} : { owner: r.conn.broker.owners.keyOf(owner) };
}

/** RabbitMQ's server-generated queue names: "amq.gen-" and 22 URL-safe base64 characters. */
export function generatedQueueName(sources: BrokerSources): string {
  return randomName(sources, "amq.gen-");
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

export interface QueueRequest {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

/**
 * queue.declare's checks of the requester, then the command. `named` when the client
 * chose the name (a server-chosen amq.gen- name is not refused for its prefix). The
 * checks that depend on who asks (permissions) are made here, before submitting; the
 * rules of the definitions (equivalence, arguments, limits) when the command is applied.
 */
export function queueDeclareCommand(
  r: Requester,
  q: QueueRequest,
  named: boolean,
  owner: object | undefined,
): QueueDeclare {
  if (named && q.name.startsWith("amq.")) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `queue name '${q.name}' contains reserved prefix 'amq.*'`,
    );
  }
  checkPermission(r, "configure", "queue", q.name);
  if (!r.vhost.queues.has(q.name)) checkDeadLetterPermissions(r, q.name, q.arguments);
  return {
    type: "queue.declare",
    vhost: r.vhost.name,
    queue: q.name,
    durable: q.durable,
    exclusive: q.exclusive,
    autoDelete: q.autoDelete,
    arguments: toTaggedJson(q.arguments),
    client: clientRequest(r, owner),
  };
}

export function queueDeclare(ch: Channel, m: M<"queue.declare">): void | Promise<void> {
  if (m.passive && isReplyQueue(ch, m.queue)) {
    // The reply pseudo-queue "exists" with one consumer (RabbitMQ direct reply-to).
    ch.send({ name: "queue.declare-ok", queue: m.queue, messageCount: 0, consumerCount: 1 });
    return;
  }
  const broker = ch.conn.broker;
  if (m.passive) {
    // No empty-name shortcut for queue.declare: a passive declare of "" is a plain 404.
    const queue = ch.vhost.requireQueue(m.queue);
    ch.vhost.assertNotLocked(queue, ch.conn);
    return declared(ch, m, queue, broker.queueDefinitionsVersion(ch.vhost.name, m.queue));
  }
  const name = m.queue === "" ? generatedQueueName(ch.conn.broker) : m.queue;
  const command = queueDeclareCommand(ch, { ...m, name }, m.queue !== "", ch.conn);
  return whenApplied(broker.submit(command), (applied) =>
    declared(ch, m, ch.vhost.requireQueue(name), applied.version),
  );
}

/** The declare-ok, once the queue is on disk if it is durable (`version` holds it). */
function declared(
  ch: Channel,
  m: M<"queue.declare">,
  queue: Queue,
  version: number | undefined,
): void | Promise<void> {
  queue.declared(ch.now);
  ch.lastQueueName = queue.name;
  // A queue on another node: its home's counts (404 in RabbitMQ's words when it is down).
  if (queue.countsAtHome) {
    return queue.countsAtHome().then((counts) => {
      if (m.noWait) return;
      ch.send({ name: "queue.declare-ok", queue: queue.name, ...counts });
    });
  }
  const reply = () => {
    if (m.noWait) return;
    ch.send({
      name: "queue.declare-ok",
      queue: queue.name,
      messageCount: queue.messageCount,
      consumerCount: queue.consumerCount,
    });
  };
  // The reply waits until the queue is on disk, not for everyone else's pending changes:
  // a passive or repeated declare (an RPC client's reply queue, a health check) is
  // answered at once while others' declarations are being saved.
  if (!queue.isDurable) {
    reply();
    return;
  }
  return ch.afterDefinitionsSaved(reply, version);
}

export interface BindingRequest {
  readonly source: string;
  readonly destinationKind: "queue" | "exchange";
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

/** queue.bind and exchange.bind: the requester's permissions, then the command. */
export function bindCommand(
  r: Requester,
  b: BindingRequest,
  owner: object | undefined,
): BindingAdd {
  checkBindingPermissions(
    r,
    b.source,
    { kind: b.destinationKind, name: b.destination },
    b.routingKey,
  );
  return {
    type: "binding.add",
    vhost: r.vhost.name,
    ...b,
    arguments: toTaggedJson(b.arguments),
    client: clientRequest(r, owner),
  };
}

/**
 * queue.unbind and exchange.unbind. Unbinding succeeds even when the queue, exchange
 * or binding is missing, and is allowed on another connection's exclusive queue (RabbitMQ).
 */
export function unbindCommand(r: Requester, b: BindingRequest): BindingRemove {
  checkBindingPermissions(
    r,
    b.source,
    { kind: b.destinationKind, name: b.destination },
    b.routingKey,
  );
  return {
    type: "binding.remove",
    vhost: r.vhost.name,
    ...b,
    arguments: toTaggedJson(b.arguments),
  };
}

/** The queue a binding request names: empty queue and routing key bind by the last queue's name. */
function queueBinding(ch: Channel, m: M<"queue.bind"> | M<"queue.unbind">): BindingRequest {
  const queueName = resolveQueueName(ch, m.queue);
  // AMQP 0-9-1 queue.bind: empty queue and routing key mean "bind by the last queue's name".
  const routingKey = m.queue === "" && m.routingKey === "" ? queueName : m.routingKey;
  return {
    source: m.exchange,
    destinationKind: "queue",
    destination: queueName,
    routingKey,
    arguments: m.arguments,
  };
}

export function queueBind(ch: Channel, m: M<"queue.bind">): void | Promise<void> {
  const command = bindCommand(ch, queueBinding(ch, m), ch.conn);
  return whenApplied(ch.conn.broker.submit(command), () =>
    ch.afterDefinitionsSaved(() => {
      if (!m.noWait) ch.send({ name: "queue.bind-ok" });
    }),
  );
}

export function queueUnbind(ch: Channel, m: M<"queue.unbind">): void | Promise<void> {
  const command = unbindCommand(ch, queueBinding(ch, m));
  return whenApplied(ch.conn.broker.submit(command), () =>
    ch.afterDefinitionsSaved(() => ch.send({ name: "queue.unbind-ok" })),
  );
}

/**
 * queue.purge: drops a queue's ready messages. Not a definitions change (the queue
 * stays as it is defined), so no command: the queue does it where it lives.
 */
export function purgeQueue(
  r: Requester,
  name: string,
  owner: object | undefined,
): number | Promise<number> {
  checkPermission(r, "read", "queue", name);
  const queue = r.vhost.requireQueue(name);
  r.vhost.assertNotLocked(queue, owner);
  // A queue on another node is purged by its home.
  return queue.purgeAtHome ? queue.purgeAtHome() : queue.purge();
}

export function queuePurge(ch: Channel, m: M<"queue.purge">): void | Promise<void> {
  const count = purgeQueue(ch, resolveQueueName(ch, m.queue), ch.conn);
  const reply = (messageCount: number) => {
    if (!m.noWait) ch.send({ name: "queue.purge-ok", messageCount });
  };
  if (typeof count === "number") reply(count);
  else return count.then(reply);
}

/**
 * queue.delete's checks of the requester, then the command. if-unused and if-empty
 * are about the queue's consumers and messages, which live with the queue, not in
 * the definitions: they are checked here, where the queue is.
 */
export function queueDeleteCommand(
  r: Requester,
  name: string,
  options: { readonly ifUnused: boolean; readonly ifEmpty: boolean },
  owner: object | undefined,
): QueueDelete {
  checkPermission(r, "configure", "queue", name);
  const queue = r.vhost.queues.get(name);
  if (queue) {
    r.vhost.assertNotLocked(queue, owner);
    r.vhost.assertDeletable(queue, options.ifUnused, options.ifEmpty);
  }
  return {
    type: "queue.delete",
    vhost: r.vhost.name,
    queue: name,
    client: clientRequest(r, owner),
  };
}

export function queueDelete(ch: Channel, m: M<"queue.delete">): void | Promise<void> {
  const name = resolveQueueName(ch, m.queue);
  // if-unused and if-empty of a queue on another node are judged by its home's counts now.
  const remote = m.ifUnused || m.ifEmpty ? ch.vhost.queues.get(name) : undefined;
  if (remote?.countsAtHome) {
    return remote.countsAtHome().then(() => deleteChecked(ch, m, name));
  }
  return deleteChecked(ch, m, name);
}

function deleteChecked(ch: Channel, m: M<"queue.delete">, name: string): void | Promise<void> {
  const command = queueDeleteCommand(ch, name, m, ch.conn);
  // The consumers the delete cancels on this channel hear of it after delete-ok.
  ch.holdCancels();
  const answer = (applied: Applied<unknown>) =>
    ch.afterDefinitionsSaved(() => {
      if (!m.noWait) ch.send({ name: "queue.delete-ok", messageCount: applied.messagesDropped });
      ch.releaseCancels();
    });
  let submitted: ReturnType<Broker["submit"]>;
  try {
    submitted = ch.conn.broker.submit(command);
  } catch (e) {
    ch.releaseCancels();
    throw e;
  }
  if (!(submitted instanceof Promise)) return answer(submitted);
  return submitted.then(answer, (e: unknown) => {
    ch.releaseCancels();
    throw e;
  });
}
