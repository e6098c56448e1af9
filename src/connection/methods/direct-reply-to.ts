import { channelError, connectionError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import { randomName } from "../../vhost/broker-sources.js";
import { REPLY_TO_QUEUE, replyKeyOf } from "../../vhost/reply-to.js";
import type { Channel } from "../channel.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

export { REPLY_TO_QUEUE, replyKeyOf };

/**
 * basic.consume on amq.rabbitmq.reply-to: the channel becomes a reply consumer.
 * Replies skip queues entirely and go straight to it, in no-ack mode only
 * (RabbitMQ direct reply-to).
 */
export function consumeReplyTo(ch: Channel, m: M<"basic.consume">): void {
  if (!m.noAck) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "reply consumer cannot acknowledge");
  }
  if (ch.replyConsumerTag !== undefined) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "reply consumer already set");
  }
  const tag = m.consumerTag === "" ? randomName(ch.conn.broker, "amq.ctag-") : m.consumerTag;
  if (ch.consumers.has(tag)) {
    throw connectionError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`);
  }
  ch.replyConsumerTag = tag;
  // In a cluster the key names this node, so a reply published on another node finds it.
  const broker = ch.conn.broker;
  ch.replyKey =
    (broker.remoteReplies?.keyPrefix ?? "") + broker.randomBytes(18).toString("base64url");
  ch.conn.broker.replyConsumers.set(ch.replyKey, ch);
  if (!m.noWait) ch.send({ name: "basic.consume-ok", consumerTag: tag });
}

/** Whether a name is the reply pseudo-queue or a live reply address. */
export function isReplyQueue(ch: Channel, name: string): boolean {
  if (name === REPLY_TO_QUEUE) return true;
  const key = replyKeyOf(name);
  return key !== undefined && ch.conn.broker.replyConsumers.has(key);
}
