import { AmqpError, channelError } from "../protocol/amqp-error.js";
import { ReplyCode } from "../protocol/generated/constants.js";

/** RabbitMQ's vhost limits (set_vhost_limits): absent means no limit. */
export interface VhostLimits {
  maxConnections?: number;
  maxQueues?: number;
}

/** RabbitMQ's user limits (set_user_limits). */
export interface UserLimits {
  maxConnections?: number;
  maxChannels?: number;
}

/** Why limits refused something, counted for status and metrics. */
export type LimitRefusal =
  | "node_connections"
  | "vhost_connections"
  | "user_connections"
  | "vhost_queues"
  | "user_channels"
  | "channel_max";

const notAllowed = (text: string) =>
  new AmqpError(ReplyCode.NOT_ALLOWED, `NOT_ALLOWED - ${text}`, 10, 40, "connection");

/** The refusal texts, as RabbitMQ words them. */
export const limitErrors = {
  nodeConnections: (limit: number) =>
    notAllowed(`connection refused: node connection limit (${limit}) is reached`),
  vhostConnections: (vhost: string, user: string, limit: number) =>
    notAllowed(
      `access to vhost '${vhost}' refused for user '${user}': connection limit (${limit}) is reached`,
    ),
  userConnections: (user: string, limit: number) =>
    notAllowed(
      `connection refused for user '${user}': user connection limit (${limit}) is reached`,
    ),
  vhostQueues: (queue: string, vhost: string, limit: number) =>
    channelError(
      ReplyCode.PRECONDITION_FAILED,
      `cannot declare queue '${queue}': queue limit in vhost '${vhost}' (${limit}) is reached`,
    ),
  userChannels: (user: string, limit: number) =>
    new AmqpError(
      ReplyCode.NOT_ALLOWED,
      `NOT_ALLOWED - number of channels opened for user '${user}' has reached the maximum allowed user limit of (${limit})`,
      20,
      10,
      "connection",
    ),
};

/**
 * Whether a count has reached a limit. As in RabbitMQ, no limit or a negative one
 * means no limit, and 0 allows none.
 */
export function limitReached(limit: number | undefined, count: number): limit is number {
  return limit !== undefined && limit >= 0 && count >= limit;
}

/** RabbitMQ's names for the vhost limits (set_vhost_limits, /api/vhost-limits). */
export const VHOST_LIMIT_NAMES = {
  "max-connections": "maxConnections",
  "max-queues": "maxQueues",
} as const satisfies Record<string, keyof VhostLimits>;

/** RabbitMQ's names for the user limits (set_user_limits, /api/user-limits). */
export const USER_LIMIT_NAMES = {
  "max-connections": "maxConnections",
  "max-channels": "maxChannels",
} as const satisfies Record<string, keyof UserLimits>;

/** Limits under RabbitMQ's names, in name order ({"max-connections": 10}). */
export function limitsByRabbitName(
  limits: VhostLimits | UserLimits | undefined,
  names: Readonly<Record<string, string>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [rabbit, mine] of Object.entries(names).sort(([a], [b]) => a.localeCompare(b))) {
    const v = (limits as Record<string, number | undefined> | undefined)?.[mine];
    if (v !== undefined) out[rabbit] = v;
  }
  return out;
}
