import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable } from "../protocol/field-table.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { QueueSettings } from "../queue/queue-settings.js";
import type { Queue, QueueDefinition } from "../queue/queue-type.js";
import type { QueueTypes } from "../queue/queue-types.js";
import type { Binding, Destination, RoutingInput } from "../routing/binding.js";
import {
  DELAYED_TYPE,
  delayedRoutingType,
  Exchange,
  type ExchangeDefinition,
  isKnownExchangeType,
} from "../routing/exchange.js";
import { type ExchangeLookup, routeMessage } from "../routing/route.js";
import { assertExchangeEquivalent, assertQueueEquivalent } from "./equivalence.js";
import type { VhostLimits } from "./limits.js";
import type { Policy } from "./policies.js";

/** Exchanges every vhost has from birth (AMQP 0-9-1 §3.1.3.1 plus RabbitMQ's amq.match). */
const PREDECLARED: readonly [string, string][] = [
  ["", "direct"],
  ["amq.direct", "direct"],
  ["amq.fanout", "fanout"],
  ["amq.topic", "topic"],
  ["amq.headers", "headers"],
  ["amq.match", "headers"],
];

/** What a vhost reports to the broker around it (storage, metrics, logs). */
export interface VhostListener {
  queueDeleted(vhost: VirtualHost, queue: Queue): void;
  /** A durable exchange, queue or binding was added or removed. */
  definitionsChanged(): void;
  /** A fresh id for a new queue's records in the message store (never reused). */
  newQueueId(): number;
  /** A new queue's settings: its arguments and the policies that match it. */
  queueSettings(def: QueueDefinition): QueueSettings;
  /** The policy that applies to an exchange (for alternate-exchange). */
  exchangePolicy(vhost: string, exchange: string): Policy | undefined;
}

/**
 * One virtual host's topology: exchanges, queues and the bindings between them,
 * with RabbitMQ's rules for declaring, deleting and binding. Pure: time comes in
 * as `nowMs`, errors leave as AmqpErrors carrying RabbitMQ's reply texts.
 */
export class VirtualHost implements ExchangeLookup {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Beyond RabbitMQ: where unroutable messages go instead of vanishing (set by an operator). */
  unroutableQueue: string | undefined;
  /** Unroutable publishes in this vhost (each exchange counts its own too). */
  unroutable = 0;
  /** Queue type for declarations without x-queue-type. */
  defaultQueueType = "classic";
  /** RabbitMQ's vhost limits (max-connections, max-queues). */
  limits: VhostLimits = {};
  /** Bindings by destination, so deleting a queue or exchange can drop its bindings. */
  private readonly bindingsTo = new Map<Destination, Binding[]>();

  constructor(
    readonly name: string,
    /** Builds each queue by the type its x-queue-type names. */
    readonly queueTypes: QueueTypes,
    private readonly listener: VhostListener,
  ) {
    for (const [name, type] of PREDECLARED) {
      this.exchanges.set(
        name,
        new Exchange({
          name,
          vhost: this.name,
          type,
          durable: true,
          autoDelete: false,
          internal: false,
          arguments: new Map(),
        }),
      );
    }
  }

  // --- lookups -------------------------------------------------------------

  exchange(name: string): Exchange | undefined {
    return this.exchanges.get(name);
  }

  /** The exchange's alternate-exchange argument, or else its policy's (the argument wins). */
  alternateExchange(exchange: Exchange): string | undefined {
    const v = exchange.definition.arguments.get("alternate-exchange");
    if (v?.type === "S") return v.value.toString();
    const p = exchange.policy?.definition["alternate-exchange"];
    return typeof p === "string" ? p : undefined;
  }

  defaultExchangeQueue(name: string): Destination | undefined {
    return this.queues.get(name);
  }

  /** The exchange, or 404 as RabbitMQ words it. */
  requireExchange(name: string): Exchange {
    const e = this.exchanges.get(name);
    if (!e)
      throw channelError(ReplyCode.NOT_FOUND, `no exchange '${name}' in vhost '${this.name}'`);
    return e;
  }

  requireQueue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) throw channelError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${this.name}'`);
    return q;
  }

  // --- exchanges -----------------------------------------------------------

  declareExchange(def: ExchangeDefinition, storeId?: number): Exchange {
    const existing = this.exchanges.get(def.name);
    if (existing) {
      assertExchangeEquivalent(existing.definition, def);
      return existing;
    }
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
    const exchange = new Exchange(
      def,
      def.type === DELAYED_TYPE ? (storeId ?? this.listener.newQueueId()) : 0,
    );
    exchange.policy = this.listener.exchangePolicy(this.name, def.name);
    this.exchanges.set(def.name, exchange);
    if (def.durable) this.listener.definitionsChanged();
    return exchange;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    const exchange = this.exchanges.get(name);
    if (!exchange) return; // RabbitMQ 3.x+: deleting a missing exchange succeeds.
    // In use means bound as a source (RabbitMQ's has_for_source).
    if (ifUnused && exchange.bindingCount > 0) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `exchange '${name}' in vhost '${this.name}' in use`,
      );
    }
    this.removeExchange(exchange);
  }

  private removeExchange(exchange: Exchange): void {
    this.exchanges.delete(exchange.name);
    for (const b of [...exchange.bindings]) this.dropBinding(b);
    for (const b of [...this.bindingsOf(exchange)]) this.dropBinding(b);
    this.bindingsTo.delete(exchange);
    if (exchange.definition.durable) this.listener.definitionsChanged();
  }

  // --- queues --------------------------------------------------------------

  declareQueue(def: QueueDefinition, owner: object, nowMs: number): Queue {
    const existing = this.queues.get(def.name);
    if (existing) {
      this.assertNotLocked(existing, owner);
      assertQueueEquivalent(existing.definition, def);
      return existing;
    }
    const queue = this.queueTypes.create({
      definition: def,
      storeId: this.listener.newQueueId(),
      settings: this.listener.queueSettings(def),
      exclusiveOwner: def.exclusive ? owner : null,
      nowMs,
    });
    this.queues.set(def.name, queue);
    if (queue.isDurable) this.listener.definitionsChanged();
    return queue;
  }

  /** A durable queue from the definitions file, with the store id its records use. */
  restoreQueue(def: QueueDefinition, storeId: number, nowMs: number): Queue {
    const queue = this.queueTypes.create({
      definition: def,
      storeId,
      settings: this.listener.queueSettings(def),
      exclusiveOwner: null,
      nowMs,
    });
    this.queues.set(def.name, queue);
    return queue;
  }

  /** RabbitMQ's 405 for another connection's exclusive queue. */
  assertNotLocked(queue: Queue, owner: object): void {
    if (queue.exclusiveOwner !== null && queue.exclusiveOwner !== owner) {
      throw lockedQueueError(queue.name, this.name);
    }
  }

  /** Deletes a queue; returns its ready message count. */
  deleteQueue(queue: Queue, ifUnused: boolean, ifEmpty: boolean): number {
    if (ifUnused && queue.consumerCount > 0) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `queue '${queue.name}' in vhost '${this.name}' in use`,
      );
    }
    if (ifEmpty && queue.messageCount > 0) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `queue '${queue.name}' in vhost '${this.name}' not empty`,
      );
    }
    return this.removeQueue(queue);
  }

  removeQueue(queue: Queue): number {
    if (this.queues.get(queue.name) !== queue) return 0;
    this.queues.delete(queue.name);
    for (const b of [...this.bindingsOf(queue)]) this.dropBinding(b);
    this.bindingsTo.delete(queue);
    const count = queue.delete();
    this.listener.queueDeleted(this, queue);
    if (queue.isDurable) this.listener.definitionsChanged();
    return count;
  }

  /** Deletes the exclusive queues a closing connection owned. */
  dropExclusiveQueues(owner: object): void {
    for (const q of [...this.queues.values()]) {
      if (q.exclusiveOwner === owner) this.removeQueue(q);
    }
  }

  // --- bindings ------------------------------------------------------------

  bind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    if (source.name === "") throw defaultExchangeAccess(destination, this.name);
    if (destination.kind === "exchange" && destination.name === "") {
      throw defaultExchangeAccess(destination, this.name);
    }
    const binding: Binding = { source: source.name, destination, routingKey, arguments: args };
    source.router.validate?.(binding);
    if (source.findBinding(binding)) return; // binding is idempotent
    source.addBinding(binding);
    const list = this.bindingsTo.get(destination);
    if (list) list.push(binding);
    else this.bindingsTo.set(destination, [binding]);
    if (this.isDurableBinding(binding)) this.listener.definitionsChanged();
  }

  /** RabbitMQ keeps a binding across restarts when both its ends are durable. */
  private isDurableBinding(b: Binding): boolean {
    const source = this.exchanges.get(b.source);
    const dest = b.destination;
    const destDurable =
      dest.kind === "queue" ? (dest as Queue).isDurable : (dest as Exchange).definition.durable;
    return (source?.definition.durable ?? false) && destDurable;
  }

  unbind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    if (source.name === "") throw defaultExchangeAccess(destination, this.name);
    const probe: Binding = { source: source.name, destination, routingKey, arguments: args };
    const binding = source.findBinding(probe);
    if (!binding) return; // RabbitMQ: unbinding a missing binding succeeds
    this.dropBinding(binding);
  }

  bindingsOf(destination: Destination): readonly Binding[] {
    return this.bindingsTo.get(destination) ?? [];
  }

  allBindings(): Binding[] {
    const out: Binding[] = [];
    for (const e of this.exchanges.values()) out.push(...e.bindings);
    return out;
  }

  private dropBinding(binding: Binding): void {
    if (this.isDurableBinding(binding)) this.listener.definitionsChanged();
    const source = this.exchanges.get(binding.source);
    source?.removeBinding(binding);
    const list = this.bindingsTo.get(binding.destination);
    if (list) {
      const at = list.indexOf(binding);
      if (at >= 0) list.splice(at, 1);
    }
    // An auto-delete exchange goes when its last binding as a source goes.
    if (source?.definition.autoDelete && source.bindingCount === 0) this.removeExchange(source);
  }

  // --- publishing ----------------------------------------------------------

  /** The queues a message published to `exchange` reaches. */
  route(exchange: Exchange, input: RoutingInput): Queue[] {
    const hits = routeMessage(this, exchange, input);
    const out: Queue[] = [];
    for (const d of hits) out.push(d as Queue);
    return out;
  }
}

function defaultExchangeAccess(destination: Destination, vhost: string) {
  const what = destination.kind === "queue" ? "queue" : "exchange";
  return channelError(
    ReplyCode.ACCESS_REFUSED,
    `operation not permitted on the default exchange (binding ${what} '${destination.name}' in vhost '${vhost}')`,
  );
}

export function lockedQueueError(queue: string, vhost: string) {
  return channelError(
    ReplyCode.RESOURCE_LOCKED,
    `cannot obtain exclusive access to locked queue '${queue}' in vhost '${vhost}'. ` +
      "It could be originally declared on another connection or the exclusive property " +
      "value does not match that of the original declaration.",
  );
}
