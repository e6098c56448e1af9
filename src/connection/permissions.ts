import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable } from "../protocol/field-table.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { Exchange } from "../routing/exchange.js";
import type { User, UserStore } from "../vhost/users.js";

export type PermissionKind = "configure" | "write" | "read";

/*
 * Which permission each AMQP 0-9-1 operation needs, from RabbitMQ's access control
 * guide (https://www.rabbitmq.com/docs/access-control#authorisation) and
 * rabbit_channel.erl, which also fixes the order of the checks:
 *
 * | operation                      | configure     | write                  | read              |
 * |--------------------------------|---------------|------------------------|-------------------|
 * | exchange.declare               | exchange      |                        |                   |
 * | exchange.declare passive       |               |                        |                   |
 * | exchange.declare, new with AE  | exchange      | exchange (AE)          | exchange          |
 * | exchange.delete                | exchange      |                        |                   |
 * | queue.declare                  | queue         |                        |                   |
 * | queue.declare passive          |               |                        |                   |
 * | queue.declare, new with DLX    | queue         | exchange (DLX)         | queue             |
 * | queue.delete                   | queue         |                        |                   |
 * | exchange.bind / unbind         |               | exchange (destination) | exchange (source) |
 * | queue.bind / unbind            |               | queue                  | exchange          |
 * | basic.publish                  |               | exchange               |                   |
 * | basic.get, basic.consume       |               |                        | queue             |
 * | queue.purge                    |               |                        | queue             |
 *
 * Topic permissions (the same guide, #topic-authorisation) add a check on topic
 * exchanges: basic.publish needs write on every routing key (the key and its CC and
 * BCC keys), and in AMQP 0-9-1 a binding from a topic exchange needs read on its
 * binding key.
 */

/**
 * Whom a check is for, in which vhost: a channel (its connection's user), or the
 * management API acting as the request's user.
 */
export interface PermissionScope {
  readonly conn: {
    readonly user: User | undefined;
    readonly broker: { readonly users: UserStore };
  };
  readonly vhost: { readonly name: string; exchange(name: string): Exchange | undefined };
}

const NEVER = /(?!)/;
/** Compiled patterns; the cache is dropped whole when it reaches this size. */
const MAX_COMPILED = 1024;
const compiled = new Map<string, RegExp>();

/**
 * RabbitMQ's internal backend matches with re:run(Name, Pattern): the pattern may
 * match anywhere in the name (it is not anchored), and "" stands for "^$". A pattern
 * that does not compile matches nothing (RabbitMQ refuses to store one).
 */
export function permits(pattern: string, name: string): boolean {
  const source = pattern === "" ? "^$" : pattern;
  let re = compiled.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source);
    } catch {
      re = NEVER;
    }
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(source, re);
  }
  return re.test(name);
}

/**
 * RabbitMQ's expand_topic_permission: each {name} is replaced by its value as plain
 * text (not escaped). AMQP 0-9-1 connections supply username and vhost; {client_id}
 * comes only from MQTT, so here it stays as written, as in RabbitMQ.
 */
export function expandTopicPattern(
  pattern: string,
  variables: Readonly<Record<string, string>>,
): string {
  let out = pattern;
  // Erlang's maps:fold visits small maps in key order.
  for (const key of Object.keys(variables).sort())
    out = out.replaceAll(`{${key}}`, variables[key]!);
  return out;
}

/**
 * RabbitMQ's vhost permissions: a configure, write and read regex per user and
 * vhost, checked against the resource name. Refusal is 403 in RabbitMQ's words.
 */
export function checkPermission(
  ch: PermissionScope,
  kind: PermissionKind,
  resource: "queue" | "exchange",
  name: string,
): void {
  const conn = ch.conn;
  const user = conn.user!;
  const vhost = ch.vhost.name;
  const perm = conn.broker.users.permission(vhost, user.name);
  // The default exchange is "amq.default" for permission checks and in the refusal (rabbit_access_control).
  const resourceName = resource === "exchange" && name === "" ? "amq.default" : name;
  if (perm && permits(perm[kind], resourceName)) return;
  throw channelError(
    ReplyCode.ACCESS_REFUSED,
    `${kind} access to ${resource} '${resourceName}' in vhost '${vhost}' refused for user '${user.name}'`,
  );
}

/**
 * RabbitMQ's topic authorisation (check_topic_access): on a topic exchange for which
 * the user has a topic permission in this vhost, every routing key must match its
 * write (publish) or read (bind) pattern. Without a topic permission, or on other
 * exchange types, everything is allowed. The keys are asked for only when needed.
 */
export function checkTopicPermission(
  ch: PermissionScope,
  kind: "write" | "read",
  exchange: Exchange,
  routingKeys: () => readonly string[],
): void {
  if (exchange.definition.type !== "topic") return;
  const conn = ch.conn;
  const user = conn.user!;
  const vhost = ch.vhost.name;
  const perm = conn.broker.users.topicPermission(vhost, user.name, exchange.name);
  if (!perm) return;
  const pattern = expandTopicPattern(perm[kind] === "" ? "^$" : perm[kind], {
    username: user.name,
    vhost,
  });
  for (const key of routingKeys()) {
    if (permits(pattern, key)) continue;
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `${kind} access to topic '${key}' in exchange '${exchange.name}' in vhost '${vhost}' refused for user '${user.name}'`,
    );
  }
}

/**
 * The checks of a binding in RabbitMQ's order (binding_action_with_checks): write on
 * the destination, no default exchange on either side, read on the source, then read
 * on the binding key when the source is a topic exchange.
 */
export function checkBindingPermissions(
  ch: PermissionScope,
  source: string,
  destination: { readonly kind: "queue" | "exchange"; readonly name: string },
  bindingKey: string,
): void {
  checkPermission(ch, "write", destination.kind, destination.name);
  if (source === "" || (destination.kind === "exchange" && destination.name === "")) {
    throw channelError(ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange");
  }
  checkPermission(ch, "read", "exchange", source);
  const exchange = ch.vhost.exchange(source);
  if (exchange) checkTopicPermission(ch, "read", exchange, () => [bindingKey]);
}

/**
 * A new queue with a dead-letter exchange also needs read on the queue and write on
 * that exchange, or dead-lettering would let a user publish where it may not
 * (rabbit_channel, queue.declare). A value that is not a string is left to the
 * argument checks.
 */
export function checkDeadLetterPermissions(
  ch: PermissionScope,
  queue: string,
  args: FieldTable,
): void {
  const dlx = stringArgument(args, "x-dead-letter-exchange");
  if (dlx === undefined) return;
  checkPermission(ch, "read", "queue", queue);
  checkPermission(ch, "write", "exchange", dlx);
}

/** The same for a new exchange with an alternate exchange (rabbit_channel, exchange.declare). */
export function checkAlternateExchangePermissions(
  ch: PermissionScope,
  exchange: string,
  args: FieldTable,
): void {
  const ae = stringArgument(args, "alternate-exchange");
  if (ae === undefined) return;
  checkPermission(ch, "read", "exchange", exchange);
  checkPermission(ch, "write", "exchange", ae);
}

function stringArgument(args: FieldTable, key: string): string | undefined {
  const v = args.get(key);
  return v?.type === "S" || v?.type === "x" ? v.value.toString() : undefined;
}
