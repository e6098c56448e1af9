import type { FieldTable } from "../protocol/field-table.js";
import { type Binding, type Destination, type ExchangeRouter, sameBinding } from "./binding.js";
import { ConsistentHashExchange } from "./consistent-hash-exchange.js";
import { DelayedMessages } from "./delayed-messages.js";
import { DirectExchange } from "./direct-exchange.js";
import { FanoutExchange } from "./fanout-exchange.js";
import { HeadersExchange } from "./headers-exchange.js";
import { TopicExchange } from "./topic-exchange.js";

export interface ExchangeDefinition {
  readonly name: string;
  readonly vhost: string;
  readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

const ROUTERS: Record<string, (args: FieldTable) => ExchangeRouter> = {
  direct: () => new DirectExchange(),
  fanout: () => new FanoutExchange(),
  topic: () => new TopicExchange(),
  headers: () => new HeadersExchange(),
  "x-consistent-hash": (args) => new ConsistentHashExchange(args),
};

export const DELAYED_TYPE = "x-delayed-message";

export function isKnownExchangeType(type: string): boolean {
  return Object.hasOwn(ROUTERS, type) || type === DELAYED_TYPE;
}

/** The routing type of an x-delayed-message exchange (its x-delayed-type argument), if valid. */
export function delayedRoutingType(args: FieldTable): string | undefined {
  const v = args.get("x-delayed-type");
  const type = v?.type === "S" ? v.value.toString() : undefined;
  return type !== undefined && Object.hasOwn(ROUTERS, type) ? type : undefined;
}

/** An exchange: its definition, its outgoing bindings, and its type's routing table. */
export class Exchange implements Destination {
  readonly kind = "exchange" as const;
  readonly router: ExchangeRouter;
  /** Bindings where this exchange is the source, in the order they were made. */
  private readonly all = new Set<Binding>();
  /**
   * The same bindings by destination: whether a binding exists is asked of the few
   * to one destination, not of all (an exchange with 20,000 bindings made each new
   * bind and unbind scan every one: seconds for a definitions import).
   */
  private readonly byDestination = new Map<Destination, Binding[]>();
  /** Unroutable publishes seen here (beyond RabbitMQ: counted per exchange). */
  unroutable = 0;
  /** The policy that applies to this exchange (its alternate-exchange key matters here). */
  policy:
    | { readonly name: string; readonly definition: Readonly<Record<string, unknown>> }
    | undefined;

  /** Messages an x-delayed-message exchange holds until their x-delay passes. */
  readonly delayed: DelayedMessages | undefined;

  constructor(
    readonly definition: ExchangeDefinition,
    /** Store id for the delayed messages it holds (x-delayed-message exchanges only). */
    readonly storeId = 0,
  ) {
    const type =
      definition.type === DELAYED_TYPE ? delayedRoutingType(definition.arguments) : definition.type;
    const make = type !== undefined && Object.hasOwn(ROUTERS, type) ? ROUTERS[type] : undefined;
    if (!make) throw new Error(`unknown exchange type ${definition.type}`);
    this.router = make(definition.arguments);
    this.delayed = definition.type === DELAYED_TYPE ? new DelayedMessages() : undefined;
  }

  get name(): string {
    return this.definition.name;
  }

  /** Bindings where this exchange is the source (a copy, in the order they were made). */
  get bindings(): Binding[] {
    return [...this.all];
  }

  get bindingCount(): number {
    return this.all.size;
  }

  /** The binding equal to `probe` (same destination, key and arguments), if there is one. */
  findBinding(probe: Binding): Binding | undefined {
    return this.byDestination.get(probe.destination)?.find((b) => sameBinding(b, probe));
  }

  addBinding(b: Binding): void {
    this.all.add(b);
    const list = this.byDestination.get(b.destination);
    if (list) list.push(b);
    else this.byDestination.set(b.destination, [b]);
    this.router.add(b);
  }

  removeBinding(b: Binding): void {
    if (!this.all.delete(b)) return;
    const list = this.byDestination.get(b.destination)!;
    list.splice(list.indexOf(b), 1);
    if (list.length === 0) this.byDestination.delete(b.destination);
    this.router.remove(b);
  }
}
