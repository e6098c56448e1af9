import { connectionError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Channel } from "../channel.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

/** channel.open: the Channel object already exists; a second open is a connection error. */
export function channelOpen(ch: Channel, _m: M<"channel.open">): void {
  if (ch.opened) {
    throw connectionError(ReplyCode.CHANNEL_ERROR, "second 'channel.open' seen");
  }
  ch.opened = true;
  ch.send({ name: "channel.open-ok" });
}

/**
 * channel.flow from the client. AMQP 0-9-1 §1.5.2.3 lets a client stop deliveries
 * with active=false; RabbitMQ refuses that with 540 NOT_IMPLEMENTED, closing the
 * connection (rabbit_channel), and clients' own test suites expect exactly that
 * (amqp091-go's TestIntegrationConsumeFlow panics on a flow-ok). Consumers hold
 * deliveries back with prefetch instead. active=true changes nothing and is answered.
 */
export function channelFlow(ch: Channel, m: M<"channel.flow">): void {
  if (!m.active) throw connectionError(ReplyCode.NOT_IMPLEMENTED, "active=false");
  ch.send({ name: "channel.flow-ok", active: true });
}

/** The client's answer to a channel.flow we sent; we never send one, so nothing to do. */
export function channelFlowOk(_ch: Channel, _m: M<"channel.flow-ok">): void {}

export function channelClose(ch: Channel, _m: M<"channel.close">): void {
  ch.shutdown();
  ch.state = "closing";
  ch.send({ name: "channel.close-ok" });
  ch.conn.channels.delete(ch.id);
}

/** close-ok without our channel.close: RabbitMQ treats it as a protocol error. */
export function channelCloseOk(ch: Channel, _m: M<"channel.close-ok">): void {
  throw connectionError(
    ReplyCode.CHANNEL_ERROR,
    `unexpected 'channel.close-ok' on channel ${ch.id}`,
  );
}
