import { channelError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { Channel } from "../channel.js";
import {
  checkAlternateExchangePermissions,
  checkBindingPermissions,
  checkPermission,
} from "../permissions.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

function refuseReserved(name: string) {
  return channelError(
    ReplyCode.ACCESS_REFUSED,
    `exchange name '${name}' contains reserved prefix 'amq.*'`,
  );
}

function refuseDefault() {
  return channelError(ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange");
}

export function exchangeDeclare(ch: Channel, m: M<"exchange.declare">): void | Promise<void> {
  const vhost = ch.vhost;
  // Even a passive declare of the default exchange is refused (RabbitMQ).
  if (m.exchange === "") throw refuseDefault();
  if (m.passive) {
    vhost.requireExchange(m.exchange);
  } else {
    checkPermission(ch, "configure", "exchange", m.exchange);
    const existing = vhost.exchange(m.exchange);
    if (!existing && m.exchange.startsWith("amq.")) throw refuseReserved(m.exchange);
    if (!existing) checkAlternateExchangePermissions(ch, m.exchange, m.arguments);
    vhost.declareExchange({
      name: m.exchange,
      vhost: vhost.name,
      type: m.type,
      durable: m.durable,
      autoDelete: m.autoDelete,
      internal: m.internal,
      arguments: m.arguments,
    });
  }
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "exchange.declare-ok" });
  });
}

export function exchangeDelete(ch: Channel, m: M<"exchange.delete">): void | Promise<void> {
  const vhost = ch.vhost;
  if (m.exchange === "") throw refuseDefault();
  if (m.exchange.startsWith("amq.")) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `deletion of system exchange '${m.exchange}' in vhost '${vhost.name}' not allowed`,
    );
  }
  checkPermission(ch, "configure", "exchange", m.exchange);
  vhost.deleteExchange(m.exchange, m.ifUnused);
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "exchange.delete-ok" });
  });
}

/** exchange.bind (RabbitMQ extension): messages flow from source to destination. */
export function exchangeBind(ch: Channel, m: M<"exchange.bind">): void | Promise<void> {
  const vhost = ch.vhost;
  checkBindingPermissions(ch, m.source, { kind: "exchange", name: m.destination }, m.routingKey);
  const destination = vhost.requireExchange(m.destination);
  const source = vhost.requireExchange(m.source);
  vhost.bind(source, destination, m.routingKey, m.arguments);
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "exchange.bind-ok" });
  });
}

export function exchangeUnbind(ch: Channel, m: M<"exchange.unbind">): void | Promise<void> {
  const vhost = ch.vhost;
  checkBindingPermissions(ch, m.source, { kind: "exchange", name: m.destination }, m.routingKey);
  const destination = vhost.exchange(m.destination);
  const source = vhost.exchange(m.source);
  // Unbinding what is not there succeeds, as in RabbitMQ.
  if (source && destination) vhost.unbind(source, destination, m.routingKey, m.arguments);
  return ch.afterDefinitionsSaved(() => {
    if (!m.noWait) ch.send({ name: "exchange.unbind-ok" });
  });
}
