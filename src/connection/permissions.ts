import { channelError } from "../protocol/amqp-error.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { Channel } from "./channel.js";

export type PermissionKind = "configure" | "write" | "read";

const compiled = new Map<string, RegExp>();

function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    // RabbitMQ matches permissions as anchored-at-start regexes; "" matches nothing.
    re = pattern === "" ? /(?!)/ : new RegExp(`^(?:${pattern})`);
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * RabbitMQ's vhost permissions: a configure, write and read regex per user and
 * vhost, checked against the resource name. Refusal is 403 in RabbitMQ's words.
 */
export function checkPermission(
  ch: Channel,
  kind: PermissionKind,
  resource: "queue" | "exchange",
  name: string,
): void {
  const conn = ch.conn;
  const user = conn.user!;
  const vhost = ch.vhost.name;
  const perm = conn.broker.users.permission(vhost, user.name);
  // The default exchange is "amq.default" for permission checks, as in RabbitMQ.
  const resourceName = resource === "exchange" && name === "" ? "amq.default" : name;
  if (perm && regex(perm[kind]).test(resourceName)) return;
  throw channelError(
    ReplyCode.ACCESS_REFUSED,
    `${kind} access to ${resource} '${name}' in vhost '${vhost}' refused for user '${user.name}'`,
  );
}
