import { channelError } from "../protocol/amqp-error.js";
import { toTaggedJson } from "../protocol/field-table-json.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { QueueSettings } from "../queue/queue-settings.js";
import type { Queue, QueueCreation, QueueDefinition } from "../queue/queue-type.js";
import { type QueueTypes, queueTypeName } from "../queue/queue-types.js";
import type { Binding, Destination, RoutingInput } from "../routing/binding.js";
import { Exchange } from "../routing/exchange.js";
import { type ExchangeLookup, routeMessage } from "../routing/route.js";
import type { Applied } from "./commands/command-submitter.js";
import type { MetadataCommand, ResultOf } from "./commands/command-types.js";
import type { BindingMeta, ExchangeMeta, QueueMeta, VhostMeta } from "./commands/metadata-state.js";
import { lockedQueueError } from "./commands/topology-changes.js";
import type { VhostLimits } from "./limits.js";
import type { Policy } from "./policies.js";

export { lockedQueueError };

/** What a vhost reports to the broker around it (storage, metrics, logs). */
export interface VhostListener {
  queueDeleted(vhost: VirtualHost, queue: Queue): void;
  /** A new queue's settings: its arguments and the policies that match it. */
  queueSettings(def: QueueDefinition): QueueSettings;
  /** The policy that applies to an exchange (for alternate-exchange). */
  exchangePolicy(vhost: string, exchange: string): Policy | undefined;
  /** Applies a definitions command on this node now (see `VirtualHost.declareQueue`). */
  submitNow<C extends MetadataCommand>(command: C): Applied<ResultOf<C>>;
  /**
   * Submits a change the node makes by itself (auto-delete, x-expires, a closed
   * connection's exclusive queues): applied now on one node (the answer), proposed
   * without waiting in a cluster (undefined; its effects come when the group applies it).
   */
  submitTrigger<C extends MetadataCommand>(command: C): Applied<ResultOf<C>> | undefined;
  /** The key that names an exclusive queue's owner in commands. */
  ownerKey(owner: object): string;
  /** The owner is gone: its key is not needed any more. */
  forgetOwner(owner: object): void;
  /**
   * In a cluster, the stand-in for a queue whose home is another node (undefined when
   * `home` is this node: the queue is built here).
   */
  remoteQueue?(creation: QueueCreation, home: string): Queue | undefined;
}

/**
 * One virtual host's live topology: the exchanges (with their routing tables), the
 * queues and the bindings between them, built from the vhost's definitions
 * (`VhostMeta`) by the effects of metadata commands (`attach...`/`detach...`). The
 * rules for declaring, deleting and binding are those commands' (vhost/commands/);
 * the few changes made here (`declareQueue`, `removeQueue`, ...) submit commands too.
 * Pure: time comes in as `nowMs`, errors leave as AmqpErrors with RabbitMQ's texts.
 */
export class VirtualHost implements ExchangeLookup {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Unroutable publishes in this vhost (each exchange counts its own too). */
  unroutable = 0;
  /** Bindings by destination, so deleting a queue or exchange can drop its bindings. */
  private readonly bindingsTo = new Map<Destination, Binding[]>();
  /** The live binding each binding definition was built into. */
  private readonly built = new WeakMap<BindingMeta, Binding>();

  constructor(
    readonly meta: VhostMeta,
    /** Builds each queue by the type its x-queue-type names. */
    readonly queueTypes: QueueTypes,
    private readonly listener: VhostListener,
  ) {}

  get name(): string {
    return this.meta.name;
  }

  /** Beyond RabbitMQ: where unroutable messages go instead of vanishing (set by an operator). */
  get unroutableQueue(): string | undefined {
    return this.meta.unroutableQueue;
  }

  /** Queue type for declarations without x-queue-type. */
  get defaultQueueType(): string {
    return this.meta.defaultQueueType;
  }

  /**
   * RabbitMQ's vhost limits (max-connections, max-queues). Operators change them with
   * the vhost.set-limit command; tests set them here directly.
   */
  get limits(): VhostLimits {
    return this.meta.limits;
  }

  set limits(limits: VhostLimits) {
    this.meta.limits = limits;
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

  /** RabbitMQ's 405 for another connection's exclusive queue. */
  assertNotLocked(queue: Queue, owner: object | undefined): void {
    if (queue.exclusiveOwner !== null && queue.exclusiveOwner !== owner) {
      throw lockedQueueError(queue.name, this.name);
    }
  }

  /**
   * queue.delete's if-unused and if-empty: about consumers and messages, which live
   * with the queue, so they are checked here before the delete command is submitted.
   */
  assertDeletable(queue: Queue, ifUnused: boolean, ifEmpty: boolean): void {
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
  }

  // --- changes, as commands applied on this node -----------------------------
  // The AMQP handlers and the management API submit their commands themselves; these
  // serve the node's own triggers (auto-delete, x-expires, a closed connection's
  // exclusive queues), which do not wait in a cluster, and tests (declareQueue needs a
  // submitter that applies at once).

  /** Declares a queue owned (when exclusive) by `owner`, as a client would. */
  declareQueue(def: QueueDefinition, owner: object, nowMs: number): Queue {
    const applied = this.listener.submitNow({
      type: "queue.declare",
      vhost: this.name,
      queue: def.name,
      durable: def.durable,
      exclusive: def.exclusive,
      autoDelete: def.autoDelete,
      arguments: toTaggedJson(def.arguments),
      client: { owner: this.listener.ownerKey(owner) },
    });
    const queue = this.queues.get(def.name)!;
    if (applied.result.created) queue.declared(nowMs);
    return queue;
  }

  /** Deletes a queue after checking if-unused and if-empty; returns its ready message count. */
  deleteQueue(queue: Queue, ifUnused: boolean, ifEmpty: boolean): number {
    this.assertDeletable(queue, ifUnused, ifEmpty);
    return this.removeQueue(queue);
  }

  /**
   * Deletes this queue (not a newer one of the same name); returns its ready message
   * count (0 in a cluster, where the deletion is applied later).
   */
  removeQueue(queue: Queue): number {
    const applied = this.listener.submitTrigger({
      type: "queue.delete",
      vhost: this.name,
      queue: queue.name,
      id: queue.storeId,
    });
    return applied?.messagesDropped ?? 0;
  }

  /** Deletes the exclusive queues a closing connection owned. */
  dropExclusiveQueues(owner: object): void {
    if ([...this.queues.values()].some((q) => q.exclusiveOwner === owner)) {
      const key = this.listener.ownerKey(owner);
      this.listener.submitTrigger({ type: "queues.drop-owned", vhost: this.name, owner: key });
    }
    this.listener.forgetOwner(owner);
  }

  // --- the live topology, built by the effects of commands -------------------

  attachExchange(meta: ExchangeMeta): Exchange {
    const exchange = new Exchange(meta.definition, meta.storeId);
    exchange.policy = this.listener.exchangePolicy(this.name, meta.definition.name);
    this.exchanges.set(meta.definition.name, exchange);
    return exchange;
  }

  detachExchange(name: string): void {
    const exchange = this.exchanges.get(name);
    if (!exchange) return;
    this.exchanges.delete(name);
    this.bindingsTo.delete(exchange);
  }

  /** Builds a queue (new, or from the definitions file with the store id its records use). */
  attachQueue(meta: QueueMeta, owner: object | null, nowMs: number): Queue {
    const def = meta.definition;
    const creation: QueueCreation = {
      definition: def,
      storeId: meta.id,
      settings: this.listener.queueSettings(def),
      exclusiveOwner: def.exclusive ? owner : null,
      nowMs,
      ...(meta.members === undefined ? {} : { members: meta.members }),
    };
    const replicated = this.queueTypes.get(queueTypeName(def))?.replicated === true;
    const remote =
      meta.home === undefined || replicated
        ? undefined
        : this.listener.remoteQueue?.(creation, meta.home);
    const queue = remote ?? this.queueTypes.create(creation);
    this.queues.set(def.name, queue);
    return queue;
  }

  /** Stops a queue: consumers cancelled, messages let go; returns its ready message count. */
  detachQueue(meta: QueueMeta): number {
    const queue = this.queues.get(meta.definition.name);
    if (!queue || queue.storeId !== meta.id) return 0;
    this.queues.delete(queue.name);
    this.bindingsTo.delete(queue);
    const count = queue.delete();
    this.listener.queueDeleted(this, queue);
    return count;
  }

  attachBinding(meta: BindingMeta): void {
    const source = this.exchanges.get(meta.source);
    const destination =
      meta.destinationKind === "queue"
        ? this.queues.get(meta.destination)
        : this.exchanges.get(meta.destination);
    if (!source || !destination) return;
    const binding: Binding = {
      source: meta.source,
      destination,
      routingKey: meta.routingKey,
      arguments: meta.arguments,
    };
    source.addBinding(binding);
    const list = this.bindingsTo.get(destination);
    if (list) list.push(binding);
    else this.bindingsTo.set(destination, [binding]);
    this.built.set(meta, binding);
  }

  detachBinding(meta: BindingMeta): void {
    const binding = this.built.get(meta);
    if (!binding) return;
    this.built.delete(meta);
    this.exchanges.get(binding.source)?.removeBinding(binding);
    const list = this.bindingsTo.get(binding.destination);
    if (list) {
      const at = list.indexOf(binding);
      if (at >= 0) list.splice(at, 1);
    }
  }

  bindingsOf(destination: Destination): readonly Binding[] {
    return this.bindingsTo.get(destination) ?? [];
  }

  allBindings(): Binding[] {
    const out: Binding[] = [];
    for (const e of this.exchanges.values()) out.push(...e.bindings);
    return out;
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
