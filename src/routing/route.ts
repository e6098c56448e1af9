import type { Destination, RoutingInput } from "./binding.js";
import type { Exchange } from "./exchange.js";

/** How the router finds exchanges by name and reads an exchange's alternate exchange. */
export interface ExchangeLookup {
  exchange(name: string): Exchange | undefined;
  /** The alternate exchange in effect for this exchange (argument or policy), if any. */
  alternateExchange(exchange: Exchange): string | undefined;
  /** The queues bound implicitly to the default exchange, by name. */
  defaultExchangeQueue(name: string): Destination | undefined;
}

/**
 * Routes a message from an exchange to the set of queues it reaches: follows
 * exchange-to-exchange bindings (each exchange visited once, so cycles end), and
 * falls back to an exchange's alternate exchange when the exchange itself
 * routed nowhere (RabbitMQ's alternate-exchange semantics).
 */
export function routeMessage(
  lookup: ExchangeLookup,
  start: Exchange,
  input: RoutingInput,
): Set<Destination> {
  const queues = new Set<Destination>();
  const visited = new Set<Exchange>();
  routeFrom(lookup, start, input, queues, visited);
  return queues;
}

function routeFrom(
  lookup: ExchangeLookup,
  exchange: Exchange,
  input: RoutingInput,
  queues: Set<Destination>,
  visited: Set<Exchange>,
): void {
  if (visited.has(exchange)) return;
  visited.add(exchange);
  const before = queues.size;
  if (exchange.name === "") {
    const q = lookup.defaultExchangeQueue(input.routingKey);
    if (q) queues.add(q);
  } else {
    const hits = new Set<Destination>();
    exchange.router.route(input, hits);
    for (const d of hits) {
      if (d.kind === "queue") queues.add(d);
      else {
        const next = lookup.exchange(d.name);
        if (next) routeFrom(lookup, next, input, queues, visited);
      }
    }
  }
  if (queues.size === before) {
    const ae = lookup.alternateExchange(exchange);
    const next = ae === undefined ? undefined : lookup.exchange(ae);
    if (next) routeFrom(lookup, next, input, queues, visited);
  }
}
