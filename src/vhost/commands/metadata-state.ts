import type { FieldTable } from "../../protocol/field-table.js";
import type { QueueDefinition } from "../../queue/queue-type.js";
import { tablesEqual } from "../../routing/binding.js";
import type { ExchangeDefinition } from "../../routing/exchange.js";
import type { VhostLimits } from "../limits.js";
import { PolicyStore } from "../policies.js";
import { CLASSIC_ONLY, type KnownQueueTypes } from "../queue-arguments.js";
import { UserStore } from "../users.js";

/**
 * The definitions of a node as plain data: what `applyCommand` reads and changes, what
 * definitions.json holds (its durable part), and what the metadata Raft group of a
 * cluster will replicate. No queue objects, sockets or clocks live here: the live
 * topology (VirtualHost, Exchange, the queues) is built from it by the effects runner.
 * Two nodes that applied the same commands hold equal states.
 */
export interface MetadataState {
  readonly vhosts: Map<string, VhostMeta>;
  /** Users, their permissions and topic permissions. */
  readonly users: UserStore;
  readonly policies: PolicyStore;
  /**
   * The next queue id (also the store id of x-delayed-message exchanges). Ids come from
   * the state, never from a node's counter, so every node gives a queue the same id;
   * they are never reused, so a stale message record never names a new queue.
   */
  nextQueueId: number;
  /**
   * The queue types the node runs (configuration, the same on every node; not part of
   * the definitions): a declaration naming another is refused.
   */
  readonly queueTypes: KnownQueueTypes;
}

/** One vhost's definitions. */
export interface VhostMeta {
  readonly name: string;
  /** Queue type for declarations without x-queue-type. */
  defaultQueueType: string;
  /** Beyond RabbitMQ: where unroutable messages go instead of vanishing. */
  unroutableQueue: string | undefined;
  /** RabbitMQ's vhost limits (max-connections, max-queues). */
  limits: VhostLimits;
  readonly exchanges: Map<string, ExchangeMeta>;
  readonly queues: Map<string, QueueMeta>;
  readonly bindings: BindingTable;
}

/** An exchange's definition. Never changed once made: a changed exchange is a new record. */
export interface ExchangeMeta {
  readonly definition: ExchangeDefinition;
  /** Store id of the messages an x-delayed-message exchange holds (0 for other types). */
  readonly storeId: number;
}

/** A queue's definition. Never changed once made. */
export interface QueueMeta {
  readonly definition: QueueDefinition;
  /** The queue's id in the message store. */
  readonly id: number;
  /**
   * The connection that owns an exclusive queue, as the key its node gave it
   * (`OwnerKeys`); undefined for every other queue.
   */
  readonly owner: string | undefined;
  /** In a cluster, the node the queue lives on (QueueDeclare.home); absent on a single node. */
  readonly home?: string;
  /** A quorum queue's members as declared (QueueDeclare.members); absent: the home alone. */
  readonly members?: readonly string[];
}

/** A binding by the names of its ends. Never changed once made. */
export interface BindingMeta {
  readonly source: string;
  readonly destinationKind: "queue" | "exchange";
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export function newMetadataState(queueTypes: KnownQueueTypes = CLASSIC_ONLY): MetadataState {
  return {
    vhosts: new Map(),
    users: new UserStore(),
    policies: new PolicyStore(),
    nextQueueId: 1,
    queueTypes,
  };
}

/** Whether a queue's definition survives a restart: durable and not exclusive (RabbitMQ). */
export function isDurableQueue(q: QueueMeta): boolean {
  return q.definition.durable && !q.definition.exclusive;
}

/** RabbitMQ keeps a binding across restarts when both its ends are durable. */
export function isDurableBinding(
  vhost: Pick<VhostMeta, "exchanges" | "queues">,
  b: BindingMeta,
): boolean {
  if (!vhost.exchanges.get(b.source)?.definition.durable) return false;
  if (b.destinationKind === "exchange")
    return vhost.exchanges.get(b.destination)?.definition.durable ?? false;
  const q = vhost.queues.get(b.destination);
  return q !== undefined && isDurableQueue(q);
}

const destinationKey = (kind: string, name: string) => `${kind}\u0000${name}`;

/**
 * A vhost's bindings, found by source (in the order they were made, which is the
 * order definitions.json lists them) and by destination (whether a binding exists is
 * asked of the few to one destination, not of all: an import of 20,000 bindings must
 * not scan every one per bind). Equal bindings are compared as RabbitMQ compares them:
 * same ends and key, arguments equal by value.
 */
export class BindingTable {
  private readonly bySource = new Map<string, Set<BindingMeta>>();
  private readonly byDestination = new Map<string, BindingMeta[]>();

  /** The binding equal to `probe`, if there is one. */
  find(probe: BindingMeta): BindingMeta | undefined {
    const list = this.byDestination.get(destinationKey(probe.destinationKind, probe.destination));
    return list?.find(
      (b) =>
        b.source === probe.source &&
        b.routingKey === probe.routingKey &&
        tablesEqual(b.arguments, probe.arguments),
    );
  }

  add(b: BindingMeta): void {
    let set = this.bySource.get(b.source);
    if (!set) {
      set = new Set();
      this.bySource.set(b.source, set);
    }
    set.add(b);
    const key = destinationKey(b.destinationKind, b.destination);
    const list = this.byDestination.get(key);
    if (list) list.push(b);
    else this.byDestination.set(key, [b]);
  }

  remove(b: BindingMeta): void {
    const set = this.bySource.get(b.source);
    if (!set?.delete(b)) return;
    if (set.size === 0) this.bySource.delete(b.source);
    const key = destinationKey(b.destinationKind, b.destination);
    const list = this.byDestination.get(key)!;
    list.splice(list.indexOf(b), 1);
    if (list.length === 0) this.byDestination.delete(key);
  }

  /** Every binding, by source in the order sources were first bound, then as made. */
  all(): BindingMeta[] {
    return [...this.bySource.values()].flatMap((set) => [...set]);
  }

  /** Bindings whose source is this exchange, in the order they were made (a copy). */
  fromSource(exchange: string): BindingMeta[] {
    return [...(this.bySource.get(exchange) ?? [])];
  }

  countFromSource(exchange: string): number {
    return this.bySource.get(exchange)?.size ?? 0;
  }

  /** Bindings to this queue or exchange (a copy). */
  toDestination(kind: "queue" | "exchange", name: string): BindingMeta[] {
    return [...(this.byDestination.get(destinationKey(kind, name)) ?? [])];
  }
}
