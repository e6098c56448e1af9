import type { Message } from "../message/message.js";
import { channelError } from "../protocol/amqp-error.js";
import { summarizeProperties } from "../protocol/content-properties.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import { ACCEPTED, type EnqueueOutcome } from "../queue/enqueue-outcome.js";
import type { Queue } from "../queue/queue-type.js";
import { delayOf } from "../routing/delayed-messages.js";
import type { Exchange } from "../routing/exchange.js";
import type { Broker } from "./broker.js";
import { MessageHeaders, Publication } from "./publication.js";
import { REPLY_TO_QUEUE, replyKeyOf, withReplyAddress } from "./reply-to.js";
import type { User } from "./users.js";
import type { VirtualHost } from "./virtual-host.js";

/**
 * Who publishes, and what publishing asks of their side: the AMQP channel, or the
 * HTTP API's publish. The checks throw AmqpErrors with RabbitMQ's codes and texts.
 */
export interface Publisher {
  /** The authenticated user (the user-id property must name it, unless it may impersonate). */
  readonly user: Pick<User, "name" | "tags">;
  /** Write permission on the exchange (403), checked before the exchange is looked up. */
  checkExchangeWrite(exchange: string): void;
  /** Topic authorisation on a topic exchange: write on every routing key (asked only when needed). */
  checkRoutingKeys(exchange: Exchange, keys: () => readonly string[]): void;
  /** The publisher's direct reply-to key, when it consumes from amq.rabbitmq.reply-to. */
  readonly replyKey: string | undefined;
  /** Publisher flow control: a publish reached these queues (one may hold the publisher). */
  routed?(queues: readonly Queue[], nowMs: number): void;
  /** The turn's work budget: a publish made this many queue entries. */
  noteWork?(entries: number): void;
}

/** A basic.publish (or its HTTP equivalent) as it arrived. */
export interface PublishRequest {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  /** Raw property list, as the publisher sent it. */
  readonly properties: Buffer;
  readonly body: Buffer;
}

/** What became of a publish. */
export interface PublishOutcome {
  /**
   * queued: on one or more queues; delayed: held by an x-delayed-message exchange;
   * replied: handed to a direct reply-to consumer; captured: unroutable, kept in
   * the vhost's capture queue; unroutable: dropped.
   */
  readonly route: "queued" | "delayed" | "replied" | "captured" | "unroutable";
  /** The queues it was put on. */
  readonly queues: readonly Queue[];
  /** When it is safe (a publisher confirm settles from this), or that it was refused. */
  readonly enqueue: EnqueueOutcome;
  /** Mandatory and unroutable (captured or not): return it to the publisher, before its confirm. */
  readonly returned: boolean;
}

const NO_QUEUES: readonly Queue[] = [];

/** Checks a publish and routes it at once: the HTTP API's publish, and basic.publish outside a transaction. */
export function publishMessage(
  broker: Broker,
  vhost: VirtualHost,
  publisher: Publisher,
  request: PublishRequest,
  nowMs: number,
): PublishOutcome {
  return routePublication(
    broker,
    vhost,
    publisher,
    acceptPublish(broker, vhost, publisher, request, nowMs),
    nowMs,
  );
}

/**
 * The checks of basic.publish in RabbitMQ's order (rabbit_channel), then the
 * message: write permission on the exchange before any 404, the exchange must
 * exist and not be internal, topic permission on the routing keys, the user-id
 * property, the expiration property, and direct reply-to's address. Counted as
 * published. In a transaction, the routing waits for tx.commit.
 */
export function acceptPublish(
  broker: Broker,
  vhost: VirtualHost,
  publisher: Publisher,
  request: PublishRequest,
  nowMs: number,
): Publication {
  // Write permission first: a refused user learns nothing of which exchanges exist (rabbit_channel).
  publisher.checkExchangeWrite(request.exchange);
  const exchange = vhost.exchange(request.exchange);
  if (!exchange)
    throw channelError(
      ReplyCode.NOT_FOUND,
      `no exchange '${request.exchange}' in vhost '${vhost.name}'`,
    );
  if (exchange.definition.internal) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `cannot publish to internal exchange '${request.exchange}' in vhost '${vhost.name}'`,
    );
  }
  let properties = request.properties;
  let summary = summarizeProperties(properties);
  const headers = new MessageHeaders(properties, summary);
  publisher.checkRoutingKeys(exchange, () => [request.routingKey, ...headers.ccKeys()]);
  const user = publisher.user;
  if (
    summary.userId !== undefined &&
    summary.userId !== user.name &&
    !user.tags.includes("impersonator")
  ) {
    throw channelError(
      ReplyCode.PRECONDITION_FAILED,
      `user_id property set to '${summary.userId}' but authenticated user was '${user.name}'`,
    );
  }
  if (summary.expiration !== undefined) checkExpiration(summary.expiration);
  if (summary.replyTo === REPLY_TO_QUEUE) {
    properties = withReplyAddress(properties, publisher.replyKey);
    summary = summarizeProperties(properties);
  }
  broker.counters.messagesPublished++;
  const message: Message = {
    id: broker.newMessageId(),
    exchange: request.exchange,
    routingKey: request.routingKey,
    properties,
    summary,
    body: request.body,
    persistent: summary.deliveryMode === 2,
    arrivedAtMs: nowMs,
  };
  return new Publication(exchange, message, request.mandatory, headers);
}

/**
 * Routes a checked publish and puts it where it goes: an x-delayed-message exchange
 * holds it; a reply goes straight to its direct reply-to consumer; otherwise the
 * exchange type (with exchange-to-exchange bindings and the alternate exchange)
 * picks the queues for the routing key and every CC and BCC key, and the message
 * (without BCC) is enqueued on them. Unroutable messages are counted, kept in the
 * vhost's capture queue when it has one, and returned when mandatory.
 */
export function routePublication(
  broker: Broker,
  vhost: VirtualHost,
  publisher: Publisher,
  p: Publication,
  nowMs: number,
): PublishOutcome {
  const { exchange, message } = p;
  if (exchange.delayed) {
    const delay = delayOf(p.headers.get());
    if (delay > 0) {
      // Held until due, then routed (mandatory cannot apply, as in the plugin).
      const enqueue = broker.holdDelayed(exchange, message, nowMs + delay);
      return { route: "delayed", queues: NO_QUEUES, enqueue, returned: false };
    }
  }
  const replyKey = exchange.name === "" ? replyKeyOf(message.routingKey) : undefined;
  if (replyKey !== undefined) {
    const target = broker.replyConsumers.get(replyKey);
    if (target) target.deliverReply(message);
    else if (!broker.remoteReplies?.forward(replyKey, message)) {
      return unroutable(broker, vhost, p, nowMs);
    }
    return { route: "replied", queues: NO_QUEUES, enqueue: ACCEPTED, returned: false };
  }
  const queues = routeWithCc(vhost, p);
  if (queues.length === 0) return unroutable(broker, vhost, p, nowMs);
  const enqueue = broker.enqueue(queues, p.withoutBcc(), nowMs);
  // Publisher flow control: a queue falling behind holds this publisher.
  publisher.routed?.(queues, nowMs);
  publisher.noteWork?.(queues.length);
  return { route: "queued", queues, enqueue, returned: false };
}

/**
 * The queues for the routing key and, for RabbitMQ's sender-selected distribution,
 * for every routing key in the CC and BCC headers too.
 */
function routeWithCc(vhost: VirtualHost, p: Publication): Queue[] {
  const queues = vhost.route(p.exchange, p.routingInput(p.message.routingKey));
  const extra = p.headers.ccKeys();
  if (extra.length === 0) return queues;
  const all = new Set(queues);
  for (const key of extra) for (const q of vhost.route(p.exchange, p.routingInput(key))) all.add(q);
  return [...all];
}

/**
 * Counted per exchange, per vhost and per node. Beyond RabbitMQ: when the operator
 * named a capture queue for the vhost, the message goes there instead of vanishing
 * (applications see no change: a mandatory publish is still returned).
 */
function unroutable(
  broker: Broker,
  vhost: VirtualHost,
  p: Publication,
  nowMs: number,
): PublishOutcome {
  broker.counters.messagesUnroutable++;
  p.exchange.unroutable++;
  vhost.unroutable++;
  const name = vhost.unroutableQueue;
  const capture = name === undefined ? undefined : vhost.queues.get(name);
  if (!capture) {
    return { route: "unroutable", queues: NO_QUEUES, enqueue: ACCEPTED, returned: p.mandatory };
  }
  broker.counters.unroutableCaptured++;
  const enqueue = broker.enqueue([capture], p.message, nowMs);
  return { route: "captured", queues: [capture], enqueue, returned: p.mandatory };
}

/** RabbitMQ accepts an expiration property only as a non-negative integer string (milliseconds). */
function checkExpiration(expiration: string): void {
  const detail = !/^-?\d+$/.test(expiration)
    ? "no_integer"
    : Number(expiration) < 0
      ? `{value_negative,${expiration}}`
      : Number(expiration) > 315_360_000_000
        ? `{value_too_large,${expiration}}`
        : undefined;
  if (detail) {
    throw channelError(
      ReplyCode.PRECONDITION_FAILED,
      `invalid expiration '${expiration}': ${detail}`,
    );
  }
}
