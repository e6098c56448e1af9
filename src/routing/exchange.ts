import type { FieldTable } from "../protocol/field-table.js";
import type { Binding, Destination, ExchangeRouter } from "./binding.js";
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

const ROUTERS: Record<string, () => ExchangeRouter> = {
  direct: () => new DirectExchange(),
  fanout: () => new FanoutExchange(),
  topic: () => new TopicExchange(),
  headers: () => new HeadersExchange(),
};

export function isKnownExchangeType(type: string): boolean {
  return type in ROUTERS;
}

/** An exchange: its definition, its outgoing bindings, and its type's routing table. */
export class Exchange implements Destination {
  readonly kind = "exchange" as const;
  readonly router: ExchangeRouter;
  /** Bindings where this exchange is the source. */
  readonly bindings: Binding[] = [];
  /** Unroutable publishes seen here (beyond RabbitMQ: counted per exchange). */
  unroutable = 0;
  /** The policy that applies to this exchange (its alternate-exchange key matters here). */
  policy:
    | { readonly name: string; readonly definition: Readonly<Record<string, unknown>> }
    | undefined;

  constructor(readonly definition: ExchangeDefinition) {
    const make = ROUTERS[definition.type];
    if (!make) throw new Error(`unknown exchange type ${definition.type}`);
    this.router = make();
  }

  get name(): string {
    return this.definition.name;
  }

  addBinding(b: Binding): void {
    this.bindings.push(b);
    this.router.add(b);
  }

  removeBinding(b: Binding): void {
    const at = this.bindings.indexOf(b);
    if (at < 0) return;
    this.bindings.splice(at, 1);
    this.router.remove(b);
  }
}
