import type { FieldTable } from "../protocol/field-table.js";
import type { ColdRecord } from "./cold-index.js";
import { Consumer, type ConsumerOptions, type ConsumerSink } from "./consumer.js";
import type { Message, QueueEntry, StoredRef } from "./message.js";
import { type Pager, ReadyList } from "./ready-list.js";

/** Why a message left a queue without being acknowledged (RabbitMQ's x-death reasons). */
export type DiscardReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

/** What a queue tells its owner (the vhost) about; the owner wires storage and dead-lettering. */
export interface QueueHooks {
  /** A message left the queue for good: acknowledged, or delivered with no-ack. */
  settled(queue: MessageQueue, entry: QueueEntry): void;
  /** A message left the queue unacknowledged: dead-letter it or drop it. */
  discarded(queue: MessageQueue, entry: QueueEntry, reason: DiscardReason): void;
  /** A cold (on-disk) entry left the queue without being read back (purge, delete). */
  settledCold(queue: MessageQueue, record: ColdRecord): void;
  /** The entry is about to be delivered (its delivery count was just raised). */
  delivering(queue: MessageQueue, entry: QueueEntry): void;
  /** The last consumer went away (auto-delete queues are deleted then). */
  lastConsumerGone(queue: MessageQueue): void;
  /** Dispatch stopped at its batch limit with work left: call dispatch() again soon. */
  dispatchLater(queue: MessageQueue): void;
  /** Moves entries out of memory once the queue is long; absent when there is no store. */
  pager?(queue: MessageQueue): Pager | undefined;
}

export interface QueueDefinition {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

/** Deliveries one dispatch call makes before yielding the event loop to others. */
const DISPATCH_BATCH = 1000;

/**
 * A classic queue's semantics, independent of storage and sockets: ready messages
 * in order, consumers served round-robin within the highest priority that has
 * credit, unacknowledged counts, requeue to the original position. Time enters as
 * `nowMs`; nothing here touches I/O.
 */
export class MessageQueue {
  readonly kind = "queue" as const;
  readonly ready: ReadyList;
  /** Delivered and not yet settled. */
  unacked = 0;
  unackedBytes = 0;
  /** Set when the queue was deleted; late acks and requeues are then ignored. */
  deleted = false;
  /** Whether a consumer was ever attached (auto-delete only applies after the first). */
  hadConsumer = false;
  /** The connection that owns an exclusive queue (compared by identity). */
  exclusiveOwner: object | null = null;
  lastUsedMs: number;
  private consumers: Consumer[] = [];
  private roundRobin = 0;
  private dispatching = false;

  constructor(
    readonly definition: QueueDefinition,
    private readonly hooks: QueueHooks,
    nowMs: number,
    /** The queue's id in the message store (records name queues by id, not by name). */
    readonly storeId = 0,
  ) {
    this.lastUsedMs = nowMs;
    this.ready = new ReadyList(hooks.pager?.(this));
  }

  /** Whether its messages survive a restart: durable and not exclusive (RabbitMQ). */
  get isDurable(): boolean {
    return this.definition.durable && !this.definition.exclusive;
  }

  get name(): string {
    return this.definition.name;
  }

  get messageCount(): number {
    return this.ready.length;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get consumerList(): readonly Consumer[] {
    return this.consumers;
  }

  /** Adds a message; `ref` is the stored record holding this queue's claim, if any. */
  enqueue(message: Message, nowMs: number, ref?: StoredRef): QueueEntry {
    const entry: QueueEntry = {
      seq: message.id,
      message,
      deliveryCount: 0,
      redelivered: false,
      expiresAtMs: Number.POSITIVE_INFINITY,
      ref,
    };
    this.ready.push(entry);
    if (this.consumers.length > 0) this.dispatch(nowMs);
    return entry;
  }

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer {
    const consumer = new Consumer(options, this, sink, nowMs);
    // Keep consumers ordered by priority, highest first; equal priorities in arrival order.
    let at = this.consumers.length;
    while (at > 0 && this.consumers[at - 1]!.priority < consumer.priority) at--;
    this.consumers.splice(at, 0, consumer);
    this.hadConsumer = true;
    this.lastUsedMs = nowMs;
    this.dispatch(nowMs);
    return consumer;
  }

  removeConsumer(consumer: Consumer, nowMs: number): void {
    const at = this.consumers.indexOf(consumer);
    if (at < 0) return;
    this.consumers.splice(at, 1);
    this.lastUsedMs = nowMs;
    if (this.consumers.length === 0) this.hooks.lastConsumerGone(this);
  }

  hasExclusiveConsumer(): boolean {
    return this.consumers.some((c) => c.options.exclusive);
  }

  /** Hands ready messages to consumers with credit, up to a batch limit. */
  dispatch(nowMs: number): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      let sent = 0;
      while (this.ready.length > 0) {
        const consumer = this.pickConsumer();
        if (!consumer) return;
        if (sent++ === DISPATCH_BATCH) {
          this.hooks.dispatchLater(this);
          return;
        }
        const entry = this.ready.shift()!;
        this.deliverTo(consumer, entry, nowMs);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** basic.get: the next ready message, now counted as delivered. */
  fetch(noAck: boolean, nowMs: number): QueueEntry | undefined {
    this.lastUsedMs = nowMs;
    const entry = this.ready.shift();
    if (!entry) return undefined;
    entry.deliveryCount++;
    if (!noAck) this.hooks.delivering(this, entry);
    if (noAck) {
      this.hooks.settled(this, entry);
    } else {
      this.unacked++;
      this.unackedBytes += entry.message.body.length;
    }
    return entry;
  }

  /** An unacknowledged delivery was acknowledged. */
  ack(entry: QueueEntry, consumer: Consumer | undefined): void {
    this.release(entry, consumer);
    this.hooks.settled(this, entry);
  }

  /** An unacknowledged delivery goes back to its place, marked redelivered. */
  requeue(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void {
    this.release(entry, consumer);
    if (this.deleted) return;
    entry.redelivered = true;
    this.ready.requeue(entry);
    this.dispatch(nowMs);
  }

  /** An unacknowledged delivery was rejected without requeue. */
  reject(entry: QueueEntry, consumer: Consumer | undefined): void {
    this.release(entry, consumer);
    if (this.deleted) return;
    this.hooks.discarded(this, entry, "rejected");
  }

  /** Drops every ready message (not the unacknowledged ones); returns how many. */
  purge(): number {
    const count = this.ready.length;
    const dropped = this.ready.clear((record) => this.hooks.settledCold(this, record));
    for (const entry of dropped) this.hooks.settled(this, entry);
    return count;
  }

  /** Marks the queue deleted, cancels its consumers and returns the ready count it had. */
  delete(): number {
    if (this.deleted) return 0;
    const count = this.ready.length;
    this.purge();
    this.deleted = true;
    const consumers = this.consumers;
    this.consumers = [];
    for (const c of consumers) c.sink.cancelledByQueue(c, "queue-deleted");
    return count;
  }

  private release(entry: QueueEntry, consumer: Consumer | undefined): void {
    this.unacked--;
    this.unackedBytes -= entry.message.body.length;
    if (consumer) consumer.unacked--;
  }

  private deliverTo(consumer: Consumer, entry: QueueEntry, nowMs: number): void {
    entry.deliveryCount++;
    this.lastUsedMs = nowMs;
    if (consumer.options.noAck) {
      consumer.sink.deliver(consumer, entry, this);
      this.hooks.settled(this, entry);
      return;
    }
    this.unacked++;
    this.unackedBytes += entry.message.body.length;
    consumer.unacked++;
    this.hooks.delivering(this, entry);
    consumer.sink.deliver(consumer, entry, this);
  }

  /**
   * Round-robin among the consumers of the highest priority that can take a
   * message; lower priorities are served only while all higher ones are blocked
   * (RabbitMQ consumer priorities).
   */
  private pickConsumer(): Consumer | undefined {
    const cs = this.consumers;
    let start = 0;
    while (start < cs.length) {
      const priority = cs[start]!.priority;
      let end = start + 1;
      while (end < cs.length && cs[end]!.priority === priority) end++;
      const size = end - start;
      for (let k = 0; k < size; k++) {
        const offset = (this.roundRobin + k) % size;
        const c = cs[start + offset]!;
        if (c.active && c.belowPrefetch && c.sink.hasCredit(c)) {
          this.roundRobin = offset + 1;
          return c;
        }
      }
      start = end;
    }
    return undefined;
  }
}
