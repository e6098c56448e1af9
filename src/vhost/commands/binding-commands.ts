import { channelError } from "../../protocol/amqp-error.js";
import { fromTaggedJson } from "../../protocol/field-table-json.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { ExchangeRouter } from "../../routing/binding.js";
import { Exchange } from "../../routing/exchange.js";
import { Changes, clientVhost, unchanged } from "./changes.js";
import type { BindingAdd, BindingRemove, Results } from "./command-types.js";
import type { CommandOutcome } from "./effects.js";
import {
  type BindingMeta,
  type ExchangeMeta,
  isDurableBinding,
  type MetadataState,
  type VhostMeta,
} from "./metadata-state.js";
import { lockedFor, lockedQueueError, removeBinding } from "./topology-changes.js";

/** One router per exchange record, only to ask its type whether a binding makes sense. */
const validators = new WeakMap<ExchangeMeta, ExchangeRouter>();

/** The exchange type's own check of a binding's key and arguments (406 when they make no sense). */
export function validateBinding(source: ExchangeMeta, b: BindingMeta): void {
  let router = validators.get(source);
  if (!router) {
    router = new Exchange(source.definition).router;
    validators.set(source, router);
  }
  router.validate?.({
    source: b.source,
    destination: { kind: b.destinationKind, name: b.destination },
    routingKey: b.routingKey,
    arguments: b.arguments,
  });
}

export function defaultExchangeAccess(kind: string, destination: string, vhost: string) {
  return channelError(
    ReplyCode.ACCESS_REFUSED,
    `operation not permitted on the default exchange (binding ${kind} '${destination}' in vhost '${vhost}')`,
  );
}

function notFound(kind: string, name: string, vhost: string) {
  return channelError(ReplyCode.NOT_FOUND, `no ${kind} '${name}' in vhost '${vhost}'`);
}

function bindingOf(c: BindingAdd | BindingRemove): BindingMeta {
  return {
    source: c.source,
    destinationKind: c.destinationKind,
    destination: c.destination,
    routingKey: c.routingKey,
    arguments: fromTaggedJson(c.arguments),
  };
}

/** The checks of queue.bind and exchange.bind, destination first, as RabbitMQ makes them. */
function checkBindingEnds(v: VhostMeta, c: BindingAdd): ExchangeMeta {
  if (c.destinationKind === "queue") {
    const queue = v.queues.get(c.destination);
    if (!queue) throw notFound("queue", c.destination, v.name);
    if (c.client && lockedFor(queue, c.client.owner)) throw lockedQueueError(c.destination, v.name);
  } else if (!v.exchanges.has(c.destination)) throw notFound("exchange", c.destination, v.name);
  const source = v.exchanges.get(c.source);
  if (!source) throw notFound("exchange", c.source, v.name);
  if (c.source === "" || (c.destinationKind === "exchange" && c.destination === ""))
    throw defaultExchangeAccess(c.destinationKind, c.destination, v.name);
  return source;
}

export function addBinding(
  state: MetadataState,
  c: BindingAdd,
): CommandOutcome<Results["binding.add"]> {
  const v = clientVhost(state, c.vhost);
  const source = checkBindingEnds(v, c);
  const binding = bindingOf(c);
  validateBinding(source, binding);
  if (v.bindings.find(binding)) return unchanged({ created: false }); // binding is idempotent
  v.bindings.add(binding);
  const changes = new Changes();
  changes.push({ kind: "binding.add", vhost: v.name, binding });
  if (isDurableBinding(v, binding)) changes.persist();
  return changes.done({ created: true });
}

/** Unbinding succeeds when the queue, exchange or binding is missing (RabbitMQ). */
export function removeBindingCommand(
  state: MetadataState,
  c: BindingRemove,
): CommandOutcome<Results["binding.remove"]> {
  const v = state.vhosts.get(c.vhost);
  if (!v?.exchanges.has(c.source)) return unchanged({ removed: false });
  const destinations = c.destinationKind === "queue" ? v.queues : v.exchanges;
  if (!destinations.has(c.destination)) return unchanged({ removed: false });
  if (c.source === "") throw defaultExchangeAccess(c.destinationKind, c.destination, v.name);
  const binding = v.bindings.find(bindingOf(c));
  if (!binding) return unchanged({ removed: false });
  const changes = new Changes();
  removeBinding(v, binding, changes);
  return changes.done({ removed: true });
}
