import { channelError } from "../protocol/amqp-error.js";
import { editProperties } from "../protocol/content-properties.js";
import { ReplyCode } from "../protocol/generated/constants.js";

/** RabbitMQ's direct reply-to pseudo-queue. */
export const REPLY_TO_QUEUE = "amq.rabbitmq.reply-to";
const REPLY_TO_PREFIX = `${REPLY_TO_QUEUE}.`;

/** The private reply address of a reply consumer's key. */
export function replyAddress(key: string): string {
  return REPLY_TO_PREFIX + key;
}

/** The reply key of a routing key addressed to a reply consumer, if it is one. */
export function replyKeyOf(routingKey: string): string | undefined {
  return routingKey.startsWith(REPLY_TO_PREFIX)
    ? routingKey.slice(REPLY_TO_PREFIX.length)
    : undefined;
}

/**
 * A request published with reply-to "amq.rabbitmq.reply-to": the property is
 * rewritten to the publisher's private reply address, which only a publisher
 * consuming from the pseudo-queue has (406 otherwise, RabbitMQ's text).
 */
export function withReplyAddress(properties: Buffer, replyKey: string | undefined): Buffer {
  if (!replyKey) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "fast reply consumer does not exist");
  }
  return editProperties(properties, { replyTo: replyAddress(replyKey) });
}
