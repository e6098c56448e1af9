import type { AmqpConnection } from "../../connection/amqp-connection.js";
import { limitsByRabbitName, USER_LIMIT_NAMES } from "../../vhost/limits.js";
import type { Permission, User } from "../../vhost/users.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import { badRequest } from "../http/http-types.js";
import { details, type Json } from "./format.js";

/** Sums over a vhost's queues: depths and the message_stats totals. */
export function vhostTotals(vhost: VirtualHost) {
  let ready = 0;
  let unacked = 0;
  let published = 0;
  let delivered = 0;
  let acked = 0;
  let redelivered = 0;
  for (const q of vhost.queues.values()) {
    const s = q.stats();
    ready += s.messagesReady;
    unacked += s.messagesUnacknowledged;
    published += s.published;
    delivered += s.delivered;
    acked += s.acked;
    redelivered += s.redelivered;
  }
  return { ready, unacked, published, delivered, acked, redelivered };
}

/** A vhost as /api/vhosts shows it. */
export function vhostView(
  vhost: VirtualHost,
  node: string,
  connections: readonly AmqpConnection[],
): Json {
  const t = vhostTotals(vhost);
  let recv = 0;
  let send = 0;
  for (const c of connections) {
    if (c.vhost !== vhost) continue;
    recv += c.stats.recvOct;
    send += c.stats.sendOct;
  }
  const description = vhost.name === "/" ? "Default virtual host" : "";
  return {
    name: vhost.name,
    description,
    tags: [],
    default_queue_type: vhost.defaultQueueType,
    metadata: { description, tags: [], default_queue_type: vhost.defaultQueueType },
    tracing: false,
    cluster_state: { [node]: "running" },
    send_oct: send,
    send_oct_details: details(),
    recv_oct: recv,
    recv_oct_details: details(),
    messages_ready: t.ready,
    messages_ready_details: details(),
    messages_unacknowledged: t.unacked,
    messages_unacknowledged_details: details(),
    messages: t.ready + t.unacked,
    messages_details: details(),
    message_stats: {
      publish: t.published,
      publish_details: details(),
      deliver_get: t.delivered,
      deliver_get_details: details(),
      ack: t.acked,
      ack_details: details(),
      redeliver: t.redelivered,
      redeliver_details: details(),
    },
  };
}

/** A user as /api/users shows it (the hash is RabbitMQ's format, so it moves between brokers). */
export function userView(user: User): Json {
  return {
    name: user.name,
    password_hash: user.passwordHash,
    hashing_algorithm: user.hashingAlgorithm,
    tags: user.tags,
    limits: limitsByRabbitName(user.limits, USER_LIMIT_NAMES),
  };
}

export function permissionView(user: string, vhost: string, p: Permission): Json {
  return { user, vhost, configure: p.configure, write: p.write, read: p.read };
}

/**
 * RabbitMQ accepts tags as a list or as one comma-separated string (rabbitmqadmin
 * and rabbitmqctl send "administrator,monitoring"); an empty string means none.
 */
export function parseTags(tags: unknown): string[] {
  const list = Array.isArray(tags) ? tags : typeof tags === "string" ? tags.split(/[,\s]+/) : [];
  if (
    (tags !== undefined && tags !== null && typeof tags !== "string" && !Array.isArray(tags)) ||
    list.some((t) => typeof t !== "string")
  )
    throw badRequest(`tags must be a string or a list of strings, got ${JSON.stringify(tags)}`);
  return (list as string[]).map((t) => t.trim()).filter((t) => t !== "");
}
