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
