import type { Message } from "../../message/message.js";
import { connectionError } from "../../protocol/amqp-error.js";
import type { Command } from "../../protocol/command-assembler.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import {
  acceptPublish,
  type Publisher,
  type PublishOutcome,
  routePublication,
} from "../../vhost/publishing.js";
import type { Channel } from "../channel.js";
import { checkPermission, checkTopicPermission } from "../permissions.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/**
 * basic.publish, the hot path. The vhost checks the publish and routes it
 * (vhost/publishing.ts); the channel does what is AMQP's: basic.return for a
 * mandatory message no queue took, and the publisher confirm, which settles from
 * the enqueue outcome (after the store's fdatasync for a persistent message on a
 * durable queue). In a transaction the routing waits for commit.
 */
export function publish(ch: Channel, m: M<"basic.publish">, command: Command): void {
  ch.conn.notePublish();
  if (m.immediate) throw connectionError(ReplyCode.NOT_IMPLEMENTED, "immediate=true");
  const broker = ch.conn.broker;
  ch.publisher ??= channelPublisher(ch);
  const publisher = ch.publisher;
  const publication = acceptPublish(
    broker,
    ch.vhost,
    publisher,
    {
      exchange: m.exchange,
      routingKey: m.routingKey,
      mandatory: m.mandatory,
      properties: command.properties!,
      body: command.body!,
    },
    ch.now,
  );
  const seq = ch.mode === "confirm" ? ch.confirms.publish() : 0;
  if (ch.mode === "tx") {
    ch.txActions.push({
      kind: "publish",
      run: () =>
        settle(
          ch,
          publication.message,
          routePublication(broker, ch.vhost, publisher, publication, ch.now),
          0,
        ),
    });
    return;
  }
  const outcome = routePublication(broker, ch.vhost, publisher, publication, ch.now);
  settle(ch, publication.message, outcome, seq);
}

/** What publishing asks of a channel: its user's permissions, its reply key, its connection's budgets. */
function channelPublisher(ch: Channel): Publisher {
  return {
    get user() {
      return ch.conn.user!;
    },
    checkExchangeWrite: (exchange) => checkPermission(ch, "write", "exchange", exchange),
    checkRoutingKeys: (exchange, keys) => checkTopicPermission(ch, "write", exchange, keys),
    get replyKey() {
      return ch.replyKey;
    },
    routed: (queues, nowMs) => ch.conn.routed(queues, nowMs),
    noteWork: (entries) => ch.conn.noteWork(entries),
  };
}

/** A mandatory message no queue took goes back before its confirm; then the confirm. */
function settle(ch: Channel, message: Message, outcome: PublishOutcome, seq: number): void {
  if (outcome.returned) returnUnroutable(ch, message);
  if (seq === 0) return;
  const now = outcome.enqueue.now;
  if (now) {
    ch.settleConfirm(seq, now.accepted ? undefined : new Error(now.detail));
    return;
  }
  outcome.enqueue.whenSettled((r) =>
    ch.settleConfirm(seq, r.accepted ? undefined : new Error(r.detail)),
  );
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
