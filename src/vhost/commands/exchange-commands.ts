import { channelError } from "../../protocol/amqp-error.js";
import { fromTaggedJson } from "../../protocol/field-table-json.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import {
  DELAYED_TYPE,
  delayedRoutingType,
  type ExchangeDefinition,
  isKnownExchangeType,
} from "../../routing/exchange.js";
import { assertExchangeEquivalent } from "../equivalence.js";
import { Changes, clientVhost, unchanged } from "./changes.js";
import type { ExchangeDeclare, ExchangeDelete, Results } from "./command-types.js";
import type { CommandOutcome } from "./effects.js";
import type { ExchangeMeta, MetadataState, VhostMeta } from "./metadata-state.js";
import { removeExchange } from "./topology-changes.js";

/** Exchanges every vhost has from birth (AMQP 0-9-1 §3.1.3.1 plus RabbitMQ's amq.match). */
const PREDECLARED: readonly [string, string][] = [
  ["", "direct"],
  ["amq.direct", "direct"],
  ["amq.fanout", "fanout"],
  ["amq.topic", "topic"],
  ["amq.headers", "headers"],
  ["amq.match", "headers"],
];

/** Whether every vhost has this exchange from birth (definitions.json does not hold it). */
export function isPredeclaredExchange(name: string): boolean {
  return PREDECLARED.some(([n]) => n === name);
}

/** Adds a new vhost's predeclared exchanges to it, with their effects. */
export function addPredeclaredExchanges(v: VhostMeta, changes: Changes): void {
  for (const [name, type] of PREDECLARED) {
    const exchange: ExchangeMeta = {
      definition: {
        name,
        vhost: v.name,
        type,
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: new Map(),
      },
      storeId: 0,
    };
    v.exchanges.set(name, exchange);
    changes.push({ kind: "exchange.create", vhost: v.name, exchange });
  }
}

/** RabbitMQ's refusal of a client's new exchange named amq.* (the prefix is the broker's). */
export function reservedExchangeError(name: string) {
  return channelError(
    ReplyCode.ACCESS_REFUSED,
    `exchange name '${name}' contains reserved prefix 'amq.*'`,
  );
}

/** Why a new exchange with this definition cannot be made, if it cannot. */
export function checkNewExchange(def: ExchangeDefinition): void {
  if (def.type === DELAYED_TYPE && !delayedRoutingType(def.arguments)) {
    throw channelError(
      ReplyCode.PRECONDITION_FAILED,
      "Invalid argument, 'x-delayed-type' must be an existing exchange type",
    );
  }
  if (!isKnownExchangeType(def.type)) {
    // RabbitMQ 3.12.x and later: channel error 406 (older versions closed the connection with 503).
    throw channelError(ReplyCode.PRECONDITION_FAILED, `unknown exchange type '${def.type}'`);
  }
}

export function declareExchange(
  state: MetadataState,
  c: ExchangeDeclare,
): CommandOutcome<Results["exchange.declare"]> {
  const v = clientVhost(state, c.vhost);
  const definition: ExchangeDefinition = {
    name: c.exchange,
    vhost: c.vhost,
    type: c.exchangeType,
    durable: c.durable,
    autoDelete: c.autoDelete,
    internal: c.internal,
    arguments: fromTaggedJson(c.arguments),
  };
  const existing = v.exchanges.get(c.exchange);
  if (existing) {
    assertExchangeEquivalent(existing.definition, definition);
    return unchanged({ created: false });
  }
  if (c.client && c.exchange.startsWith("amq.")) throw reservedExchangeError(c.exchange);
  checkNewExchange(definition);
  const exchange: ExchangeMeta = {
    definition,
    storeId: definition.type === DELAYED_TYPE ? state.nextQueueId++ : 0,
  };
  v.exchanges.set(c.exchange, exchange);
  const changes = new Changes();
  changes.push({ kind: "exchange.create", vhost: v.name, exchange });
  if (definition.durable) changes.persist();
  return changes.done({ created: true });
}

export function deleteExchange(
  state: MetadataState,
  c: ExchangeDelete,
): CommandOutcome<Results["exchange.delete"]> {
  // Every vhost has these from birth: definitions.json does not even hold them.
  if (c.exchange === "")
    throw channelError(ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange");
  if (c.exchange.startsWith("amq.")) {
    throw channelError(
      ReplyCode.ACCESS_REFUSED,
      `deletion of system exchange '${c.exchange}' in vhost '${c.vhost}' not allowed`,
    );
  }
  const v = state.vhosts.get(c.vhost);
  // RabbitMQ 3.x+: deleting a missing exchange succeeds.
  if (!v?.exchanges.has(c.exchange)) return unchanged({ deleted: false });
  // In use means bound as a source (RabbitMQ's has_for_source).
  if (c.ifUnused && v.bindings.countFromSource(c.exchange) > 0) {
    throw channelError(
      ReplyCode.PRECONDITION_FAILED,
      `exchange '${c.exchange}' in vhost '${c.vhost}' in use`,
    );
  }
  const changes = new Changes();
  removeExchange(v, c.exchange, changes);
  return changes.done({ deleted: true });
}
