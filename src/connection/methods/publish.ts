import { channelError, connectionError } from "../../protocol/amqp-error.js";
import type { Command } from "../../protocol/command-assembler.js";
import {
  editProperties,
  type PropertySummary,
  readHeaders,
  summarizeProperties,
} from "../../protocol/content-properties.js";
import type { FieldTable } from "../../protocol/field-table.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Message } from "../../queue/message.js";
import type { MessageQueue } from "../../queue/message-queue.js";
import type { RoutingInput } from "../../routing/binding.js";
import { delayOf } from "../../routing/delayed-messages.js";
import type { Exchange } from "../../routing/exchange.js";
import type { EnqueueOutcome } from "../../vhost/broker.js";
import { TYPE_NAMES } from "../../vhost/equivalence.js";
import type { Channel } from "../channel.js";
import { checkPermission, checkTopicPermission } from "../permissions.js";
import { REPLY_TO_QUEUE, replyKeyOf, rewriteReplyTo } from "./direct-reply-to.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/**
 * basic.publish, the hot path: check, build the message, route it, enqueue it,
 * and settle the publisher confirm. In a transaction the routing waits for commit.
 */
export function publish(ch: Channel, m: M<"basic.publish">, command: Command): void {
  ch.conn.notePublish();
  if (m.immediate) throw connectionError(ReplyCode.NOT_IMPLEMENTED, "immediate=true");
  const vhost = ch.vhost;
  // Write permission first: a refused user learns nothing of which exchanges exist (rabbit_channel).
  checkPermission(ch, "write", "exchange", m.exchange);
  const exchange = vhost.exchange(m.exchange);
  if (!exchange)
    throw channelError(ReplyCode.NOT_FOUND, `no exchange '${m.exchange}' in vhost '${vhost.name}'`);
  if (exchange.definition.internal) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `cannot publish to internal exchange '${m.exchange}' in vhost '${vhost.name}'`,
    );
  }
  let properties = command.properties!;
  let summary = summarizeProperties(properties);
  checkTopicPermission(ch, "write", exchange, () => [m.routingKey, ...ccKeys(summary, properties)]);
  const user = ch.conn.user!;
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
    properties = rewriteReplyTo(ch, properties);
    summary = summarizeProperties(properties);
  }
  const broker = ch.conn.broker;
  broker.counters.messagesPublished++;
  const message: Message = {
    id: broker.newMessageId(),
    exchange: m.exchange,
    routingKey: m.routingKey,
    properties,
    summary,
    body: command.body!,
    persistent: summary.deliveryMode === 2,
    arrivedAtMs: ch.now,
  };
  const seq = ch.mode === "confirm" ? ch.confirms.publish() : 0;
  if (ch.mode === "tx") {
    ch.txActions.push({ kind: "publish", run: () => route(ch, exchange, message, m.mandatory, 0) });
    return;
  }
  route(ch, exchange, message, m.mandatory, seq);
}

function route(
  ch: Channel,
  exchange: Exchange,
  message: Message,
  mandatory: boolean,
  seq: number,
): void {
  const broker = ch.conn.broker;
  if (exchange.delayed) {
    const delay = delayOf(readHeaders(message.properties, message.summary));
    if (delay > 0) {
      // x-delayed-message: held until due, then routed (mandatory cannot apply, as in the plugin).
      const mustSync = broker.holdDelayed(exchange, message, ch.now + delay);
      if (seq > 0) {
        if (mustSync) broker.store!.whenDurable((err) => ch.settleConfirm(seq, err));
        else ch.settleConfirm(seq, undefined);
      }
      return;
    }
  }
  let routed: number;
  let outcome: EnqueueOutcome = { mustSync: false, rejected: false };
  const replyKey = exchange.name === "" ? replyKeyOf(message.routingKey) : undefined;
  if (replyKey !== undefined) {
    const target = broker.replyConsumers.get(replyKey);
    target?.deliverReply(message);
    routed = target ? 1 : 0;
  } else {
    const queues = routeWithCc(ch, exchange, message);
    routed = queues.length;
    if (routed > 0) {
      const now = ch.now;
      outcome = broker.enqueue(queues, stripBcc(message), now);
      // Publisher flow control: a queue falling behind holds this connection.
      ch.conn.routed(queues, now);
    }
    ch.conn.noteWork(routed);
  }
  if (routed === 0) {
    broker.counters.messagesUnroutable++;
    exchange.unroutable++;
    ch.vhost.unroutable++;
    outcome = captureUnroutable(ch, message) ?? outcome;
    if (mandatory) returnUnroutable(ch, message);
  }
  if (seq === 0) return;
  if (outcome.rejected) {
    // A queue at its limit with x-overflow reject-publish refused it: nack.
    ch.settleConfirm(seq, new Error("rejected by a full queue"));
  } else if (outcome.mustSync) {
    // A persistent message on a durable queue is confirmed only once fdatasync'ed.
    broker.store!.whenDurable((err) => ch.settleConfirm(seq, err));
  } else {
    // Transient, unroutable, or no durable queue: safe once it is on its queues.
    ch.settleConfirm(seq, undefined);
  }
}

/**
 * Beyond RabbitMQ: when the operator named a capture queue for the vhost, an
 * unroutable message goes there instead of vanishing (applications see no change).
 */
function captureUnroutable(ch: Channel, message: Message): EnqueueOutcome | undefined {
  const name = ch.vhost.unroutableQueue;
  const queue = name === undefined ? undefined : ch.vhost.queues.get(name);
  if (!queue) return undefined;
  ch.conn.broker.counters.unroutableCaptured++;
  return ch.conn.broker.enqueue([queue], message, ch.now);
}

function returnUnroutable(ch: Channel, message: Message): void {
  ch.conn.writer.content(
    ch.id,
    {
      name: "basic.return",
      replyCode: ReplyCode.NO_ROUTE,
      replyText: "NO_ROUTE",
      exchange: message.exchange,
      routingKey: message.routingKey,
    },
    message.properties,
    message.body,
  );
  ch.conn.requestFlush();
}

/** The routing input, with the headers table decoded only if an exchange asks for it. */
function routingInput(routingKey: string, message: Message): RoutingInput {
  let headers: FieldTable | undefined;
  return {
    routingKey,
    headers: () => {
      headers ??= readHeaders(message.properties, message.summary);
      return headers;
    },
  };
}

/**
 * Routes by the routing key and, for RabbitMQ's sender-selected distribution, by
 * every routing key in the CC and BCC headers too.
 */
function routeWithCc(ch: Channel, exchange: Exchange, message: Message): MessageQueue[] {
  const vhost = ch.vhost;
  const queues = vhost.route(exchange, routingInput(message.routingKey, message));
  const extra = ccKeys(message.summary, message.properties);
  if (extra.length === 0) return queues;
  const all = new Set(queues);
  for (const key of extra)
    for (const q of vhost.route(exchange, routingInput(key, message))) all.add(q);
  return [...all];
}

function ccKeys(summary: PropertySummary, properties: Buffer): string[] {
  if (summary.headersStart < 0) return [];
  const headers = readHeaders(properties, summary);
  const keys: string[] = [];
  for (const name of ["CC", "BCC"]) {
    const v = headers.get(name);
    if (!v) continue;
    if (v.type !== "A") {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `invalid message: {unacceptable_type_in_header,"${name}",${TYPE_NAMES[v.type]}}`,
      );
    }
    for (const item of v.value) if (item.type === "S") keys.push(item.value.toString());
  }
  return keys;
}

/** RabbitMQ removes the BCC header before delivery so recipients cannot see it. */
function stripBcc(message: Message): Message {
  if (message.summary.headersStart < 0) return message;
  const headers = readHeaders(message.properties, message.summary);
  if (!headers.delete("BCC")) return message;
  const properties = editProperties(message.properties, { headers });
  return { ...message, properties, summary: summarizeProperties(properties) };
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
