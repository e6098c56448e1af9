import { channelError } from "../../protocol/amqp-error.js";
import type { FieldTable } from "../../protocol/field-table.js";
import { toTaggedJson } from "../../protocol/field-table-json.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import { whenApplied } from "../../vhost/commands/command-submitter.js";
import type { ExchangeDeclare, ExchangeDelete } from "../../vhost/commands/command-types.js";
import { reservedExchangeError } from "../../vhost/commands/exchange-commands.js";
import type { Channel } from "../channel.js";
import { checkAlternateExchangePermissions, checkPermission } from "../permissions.js";
import { bindCommand, type Requester, unbindCommand } from "./queue-methods.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;

function refuseDefault() {
  return channelError(ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange");
}

export interface ExchangeRequest {
  readonly name: string;
  readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

/**
 * exchange.declare's checks of the requester, in RabbitMQ's order (configure, the
 * reserved amq. prefix, then an alternate exchange's permissions), then the command.
 */
export function exchangeDeclareCommand(r: Requester, e: ExchangeRequest): ExchangeDeclare {
  if (e.name === "") throw refuseDefault();
  checkPermission(r, "configure", "exchange", e.name);
  const existing = r.vhost.exchange(e.name);
  // The command refuses the prefix too; here it comes before the alternate exchange's checks.
  if (!existing && e.name.startsWith("amq.")) throw reservedExchangeError(e.name);
  if (!existing) checkAlternateExchangePermissions(r, e.name, e.arguments);
  return {
    type: "exchange.declare",
    vhost: r.vhost.name,
    exchange: e.name,
    exchangeType: e.type,
    durable: e.durable,
    autoDelete: e.autoDelete,
    internal: e.internal,
    arguments: toTaggedJson(e.arguments),
    client: {},
  };
}

export function exchangeDeclare(ch: Channel, m: M<"exchange.declare">): void | Promise<void> {
  const reply = () => {
    if (!m.noWait) ch.send({ name: "exchange.declare-ok" });
  };
  // Even a passive declare of the default exchange is refused (RabbitMQ).
  if (m.exchange === "") throw refuseDefault();
  if (m.passive) {
    ch.vhost.requireExchange(m.exchange);
    return ch.afterDefinitionsSaved(reply);
  }
  const command = exchangeDeclareCommand(ch, { ...m, name: m.exchange });
  return whenApplied(ch.conn.broker.submit(command), () => ch.afterDefinitionsSaved(reply));
}

/** exchange.delete's checks of the requester (the default and amq.* exchanges stay), then the command. */
export function exchangeDeleteCommand(
  r: Requester,
  name: string,
  ifUnused: boolean,
): ExchangeDelete {
  if (name === "") throw refuseDefault();
  if (name.startsWith("amq.")) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `deletion of system exchange '${name}' in vhost '${r.vhost.name}' not allowed`,
    );
  }
  checkPermission(r, "configure", "exchange", name);
  return { type: "exchange.delete", vhost: r.vhost.name, exchange: name, ifUnused };
}

export function exchangeDelete(ch: Channel, m: M<"exchange.delete">): void | Promise<void> {
  const command = exchangeDeleteCommand(ch, m.exchange, m.ifUnused);
  return whenApplied(ch.conn.broker.submit(command), () =>
    ch.afterDefinitionsSaved(() => {
      if (!m.noWait) ch.send({ name: "exchange.delete-ok" });
    }),
  );
}

/** exchange.bind (RabbitMQ extension): messages flow from source to destination. */
export function exchangeBind(ch: Channel, m: M<"exchange.bind">): void | Promise<void> {
  const command = bindCommand(
    ch,
    {
      source: m.source,
      destinationKind: "exchange",
      destination: m.destination,
      routingKey: m.routingKey,
      arguments: m.arguments,
    },
    ch.conn,
  );
  return whenApplied(ch.conn.broker.submit(command), () =>
    ch.afterDefinitionsSaved(() => {
      if (!m.noWait) ch.send({ name: "exchange.bind-ok" });
    }),
  );
}

export function exchangeUnbind(ch: Channel, m: M<"exchange.unbind">): void | Promise<void> {
  const command = unbindCommand(ch, {
    source: m.source,
    destinationKind: "exchange",
    destination: m.destination,
    routingKey: m.routingKey,
    arguments: m.arguments,
  });
  return whenApplied(ch.conn.broker.submit(command), () =>
    ch.afterDefinitionsSaved(() => {
      if (!m.noWait) ch.send({ name: "exchange.unbind-ok" });
    }),
  );
}
