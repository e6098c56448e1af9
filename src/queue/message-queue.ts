import { ColdIndex } from "../message/cold-index.js";
import { type Message, ownExpiryMs, type QueueEntry, type StoredRef } from "../message/message.js";
import { withHeader } from "../protocol/content-properties.js";
import { enqueueClassic } from "./classic-enqueue.js";
import { classicQueueStats } from "./classic-stats.js";
import { Consumer, type ConsumerOptions, type ConsumerSink } from "./consumer.js";
import { ConsumerSet } from "./consumer-set.js";
import { DetachedEntries } from "./detached-entries.js";
import type { EnqueueOutcome } from "./enqueue-outcome.js";
import { entryBytes } from "./memory-budget.js";
import { PriorityReadyList } from "./priority-ready.js";
import type { QueueHooks } from "./queue-hooks.js";
import { QueuePressure } from "./queue-pressure.js";
import { NO_SETTINGS, type QueueSettings } from "./queue-settings.js";
import type { Queue, QueueDefinition, QueueStats } from "./queue-type.js";
import { HOT_BUDGET_BYTES, type Ready, ReadyList } from "./ready-list.js";
import { RetryDelays } from "./retry-delays.js";

export type { ClassicStore, DiscardReason, QueueHooks } from "./queue-hooks.js";
export type { QueueDefinition } from "./queue-type.js";

/** Deliveries (and expired entries dropped) one dispatch call makes before yielding the event loop. */
const DISPATCH_BATCH = 1000;
/**
 * Entries one call drops for expiry or a length limit; more wait for upkeep() on
 * later turns, so a mass expiry or a new max-length over millions of messages
 * never holds the event loop.
 */
export const DROP_SLICE = 5000;

/**
 * The classic queue (queue type "classic"): its semantics, independent of storage
 * and sockets: ready messages in order (by priority level for x-max-priority
 * queues), consumers served round-robin within the highest priority that has
 * credit (or only the single active consumer), message TTL, length limits with
 * RabbitMQ's overflow modes, delivery limits, and Warren's retry delays. Time
 * enters as `nowMs`; nothing here touches I/O. Dead-lettering and storage happen
 * in the hooks. Code outside src/queue sees it only as a `Queue`.
 */
export class MessageQueue implements Queue {
  readonly kind = "queue" as const;
  readonly type = "classic";
  readonly ready: Ready;
  /** Returned messages waiting for their retry delay (counted as ready). */
  readonly delayed: RetryDelays;
  /** Delivered and not yet settled. */
  unacked = 0;
  unackedBytes = 0;
  /** Set when the queue was deleted; late acks and requeues are then ignored. */
  deleted = false;
  /** Last consume, get or declaration: x-expires counts from here while there are no consumers. */
  lastUsedMs: number;
  /** Running totals for management stats and the doctor (RabbitMQ's per-queue message_stats). */
  readonly totals = { published: 0, delivered: 0, redelivered: 0, acked: 0 };
  settings: QueueSettings = NO_SETTINGS;
  /** The definitions version that holds this queue: a redeclaration waits only until it is saved. */
  definitionsVersion = 0;
  /** Whether it is falling behind its publishers (publisher flow control, queue-pressure.ts). */
  readonly pressure: QueuePressure = new QueuePressure(this);
  /** Whether any entry was given an expiry (queue or message TTL); the tick then checks the head. */
  private mayExpire = false;
  /** Expiry or limits left work for upkeep() (the owner was asked once to call it). */
  private upkeepPending = false;
  private readonly consumers = new ConsumerSet(() => this.settings.singleActiveConsumer);
  private dispatching = false;

  constructor(
    readonly definition: QueueDefinition,
    private readonly hooks: QueueHooks,
    nowMs: number,
    /** The queue's id in the message store (records name queues by id, not by name). */
    readonly storeId = 0,
    settings: QueueSettings = NO_SETTINGS,
    /** The connection that owns an exclusive queue (compared by identity). */
    readonly exclusiveOwner: object | null = null,
  ) {
    this.lastUsedMs = nowMs;
    this.settings = settings;
    const pager = hooks.pager?.(this);
    this.ready = settings.maxPriority
      ? new PriorityReadyList(settings.maxPriority, pager, hooks.memory)
      : new ReadyList(pager, HOT_BUDGET_BYTES, hooks.memory);
    this.delayed = new RetryDelays(hooks.memory);
  }

  get name(): string {
    return this.definition.name;
  }

  /** Whether its messages survive a restart: durable and not exclusive (RabbitMQ). */
  get isDurable(): boolean {
    return this.definition.durable && !this.definition.exclusive;
  }

  /** Ready messages (including those waiting for a retry delay). */
  get messageCount(): number {
    return this.ready.length + this.delayed.length;
  }

  get readyBytes(): number {
    return this.ready.bytes + this.delayed.bytes;
  }

  /** x-queue-mode lazy: a queue meant to hold a long backlog (publisher flow control). */
  get lazy(): boolean {
    return this.settings.lazy;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  get consumerList(): readonly Consumer[] {
    return this.consumers.all;
  }

  /** The single active consumer, for single-active-consumer queues. */
  get activeConsumer(): Consumer | undefined {
    return this.consumers.active;
  }

  /** New settings (a policy changed): length limits apply to what is there at once. */
  applySettings(settings: QueueSettings, nowMs: number): void {
    this.settings = settings;
    this.enforceLimits();
    this.dispatch(nowMs);
  }

  /** Recovered entries: their TTL counts from their original arrival. */
  adoptRecovered(index: ColdIndex): void {
    const ttl = this.settings.messageTtlMs;
    let adopted = index;
    if (ttl !== undefined) {
      adopted = new ColdIndex();
      for (const r of index.drain()) {
        adopted.push({ ...r, expiresAtMs: Math.min(r.expiresAtMs, r.arrivedAtMs + ttl) });
      }
    }
    // Recovered entries may carry expirations: let the tick look at the head.
    this.mayExpire = true;
    this.ready.adoptCold(adopted);
  }

  // --- publishing ----------------------------------------------------------

  /** False when x-overflow reject-publish(-dlx) refuses the message: the queue is full. */
  accepts(message: Message): boolean {
    return this.settings.overflow === "drop-head" || !this.wouldOverflow(message.body.length);
  }

  /** A refused message: reject-publish-dlx dead-letters it (reason maxlen); reject-publish drops it. */
  refuse(message: Message): void {
    if (this.settings.overflow !== "reject-publish-dlx") return;
    const entry = this.newEntry(message, undefined);
    this.hooks.discarded(this, entry, "maxlen");
  }

  private newEntry(message: Message, ref: StoredRef | undefined): QueueEntry {
    return {
      seq: message.id,
      message,
      deliveryCount: 0,
      redelivered: false,
      expiresAtMs: this.expiryOf(message),
      ref,
    };
  }

  /**
   * Adds a message, written to the store first when it is persistent and this
   * queue durable; the outcome settles after the fdatasync then.
   */
  enqueue(message: Message, nowMs: number): EnqueueOutcome {
    return enqueueClassic([this], message, nowMs, this.hooks.store);
  }

  /** Adds an accepted message; `ref` is the stored record holding this queue's claim, if any. */
  put(message: Message, nowMs: number, ref?: StoredRef): void {
    const entry = this.newEntry(message, ref);
    // Entries keep the expiry they got on arrival even if the TTL setting changes later.
    if (entry.expiresAtMs !== Number.POSITIVE_INFINITY) this.mayExpire = true;
    this.ready.push(entry);
    this.totals.published++;
    this.enforceLimits();
    if (this.consumers.size > 0) this.dispatch(nowMs);
    // A TTL of 0 means "now or never": what no consumer took at once expires.
    if (entry.expiresAtMs <= nowMs && this.ready.peek() === entry) this.expire(nowMs + 1);
  }

  private expiryOf(message: Message): number {
    let expires = Number.POSITIVE_INFINITY;
    const ttl = this.settings.messageTtlMs;
    if (ttl !== undefined) expires = message.arrivedAtMs + ttl;
    const own = ownExpiryMs(message);
    if (own !== undefined) expires = Math.min(expires, own);
    return expires;
  }

  private wouldOverflow(extraBytes: number): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    return (
      (maxLength !== undefined && this.messageCount + 1 > maxLength) ||
      (maxLengthBytes !== undefined && this.readyBytes + extraBytes > maxLengthBytes)
    );
  }

  /**
   * drop-head: the oldest ready messages go (dead-lettered as maxlen) until within
   * limits, a slice at a time; returns whether more must go.
   */
  private enforceLimits(max = DROP_SLICE): boolean {
    const { maxLength, maxLengthBytes, overflow } = this.settings;
    if (maxLength === undefined && maxLengthBytes === undefined) return false;
    if (overflow !== "drop-head") return false;
    let dropped = 0;
    while (
      (maxLength !== undefined && this.messageCount > maxLength) ||
      (maxLengthBytes !== undefined && this.readyBytes > maxLengthBytes && this.messageCount > 0)
    ) {
      if (dropped++ === max) return this.needsUpkeep();
      const head = this.ready.shift() ?? this.delayed.popEarliest();
      if (!head) break;
      this.hooks.discarded(this, head, "maxlen");
    }
    return false;
  }

  /** Asks the owner, once, to call upkeep() on later turns. */
  private needsUpkeep(): true {
    if (!this.upkeepPending) {
      this.upkeepPending = true;
      this.hooks.upkeepLater(this, (nowMs) => this.upkeep(nowMs));
    }
    return true;
  }

  /**
   * One slice of the drops that did not fit in one call (expiry, length limits);
   * returns true when nothing is left to do.
   */
  upkeep(nowMs: number): boolean {
    if (this.deleted) {
      this.upkeepPending = false;
      return true;
    }
    const more = this.expireSome(nowMs, DROP_SLICE) || this.enforceLimits(DROP_SLICE);
    if (!more) this.upkeepPending = false;
    return !more;
  }

  // --- consumers -----------------------------------------------------------

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer {
    const consumer = new Consumer(options, this, sink, nowMs);
    this.consumers.add(consumer);
    this.lastUsedMs = nowMs;
    this.dispatch(nowMs);
    return consumer;
  }

  /** A queue.declare of it, passive or not, renews its x-expires lease (RabbitMQ). */
  declared(nowMs: number): void {
    this.lastUsedMs = nowMs;
  }

  removeConsumer(consumer: Consumer, nowMs: number): void {
    if (!this.consumers.remove(consumer)) return;
    this.lastUsedMs = nowMs;
    if (this.consumers.size === 0) {
      // With no consumer the queue is a store: publishers it held go on.
      this.pressure.settle(nowMs);
      this.hooks.lastConsumerGone(this);
    } else this.dispatch(nowMs);
  }

  hasExclusiveConsumer(): boolean {
    return this.consumers.hasExclusive();
  }

  /** Hands ready messages to consumers with credit, up to a batch limit; expired ones are dropped. */
  dispatch(nowMs: number): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      let sent = 0;
      while (this.ready.length > 0) {
        const consumer = this.consumers.pick();
        if (!consumer) return;
        if (sent++ === DISPATCH_BATCH) {
          this.hooks.dispatchLater(this);
          return;
        }
        const entry = this.ready.shift();
        // Its next entries are on disk and could not be read now: tick() tries again.
        if (!entry) return;
        if (entry.expiresAtMs < nowMs) {
          this.hooks.discarded(this, entry, "expired");
          continue;
        }
        this.deliverTo(consumer, entry, nowMs);
      }
    } finally {
      this.dispatching = false;
      // Publishers held back by this queue go on once its consumers took enough.
      if (this.pressure.watched) this.pressure.settle(nowMs);
    }
  }

  /** basic.get: the next live ready message, now counted as delivered. */
  fetch(noAck: boolean, nowMs: number): QueueEntry | undefined {
    this.lastUsedMs = nowMs;
    let dropped = 0;
    for (let entry = this.ready.shift(); entry; entry = this.ready.shift()) {
      if (entry.expiresAtMs < nowMs) {
        this.hooks.discarded(this, entry, "expired");
        // A head of millions of expired entries goes in slices; this get finds none.
        if (++dropped === DROP_SLICE) {
          this.needsUpkeep();
          return undefined;
        }
        continue;
      }
      entry.deliveryCount++;
      this.countDelivery(entry);
      this.pressure.delivered(nowMs);
      if (noAck) {
        this.hooks.settled(this, entry);
      } else {
        this.holdUnacked(entry);
        this.hooks.delivering(this, entry);
      }
      return entry;
    }
    return undefined;
  }

  // --- settling ------------------------------------------------------------

  /** An unacknowledged delivery was acknowledged. */
  ack(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void {
    this.totals.acked++;
    this.release(entry, consumer, nowMs);
    this.hooks.settled(this, entry);
  }

  /**
   * An unacknowledged delivery comes back: past the delivery limit it is
   * dead-lettered; with a retry delay it waits; otherwise it goes back to its
   * place, marked redelivered.
   */
  requeue(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void {
    this.release(entry, consumer, nowMs);
    if (this.deleted) return;
    const { deliveryLimit, retryDelayMs, retryDelayMaxMs } = this.settings;
    if (deliveryLimit !== undefined && entry.deliveryCount > deliveryLimit) {
      this.hooks.discarded(this, entry, "delivery_limit");
      return;
    }
    entry.redelivered = true;
    if (retryDelayMs !== undefined && retryDelayMs > 0) {
      this.delayed.park(
        entry,
        nowMs + RetryDelays.delayFor(entry.deliveryCount, retryDelayMs, retryDelayMaxMs),
      );
      return;
    }
    this.ready.requeue(entry);
    this.dispatch(nowMs);
  }

  /** An unacknowledged delivery was rejected without requeue. */
  reject(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void {
    this.release(entry, consumer, nowMs);
    if (this.deleted) return;
    this.hooks.discarded(this, entry, "rejected");
  }

  // --- time ----------------------------------------------------------------

  /**
   * Called by the runtime's tick: expired messages at the head leave (RabbitMQ
   * expires classic queue messages when they reach the head), and parked retries
   * whose delay is over return to their places.
   */
  tick(nowMs: number): void {
    if (this.deleted) return;
    if (this.delayed.nextDueMs <= nowMs) {
      for (const e of this.delayed.takeDue(nowMs)) this.ready.requeue(e);
      this.dispatch(nowMs);
    }
    if (this.mayExpire) this.expire(nowMs);
    if (this.ready.pageInStalled && this.consumers.size > 0) this.dispatch(nowMs);
  }

  /** Drops expired messages from the head (a slice now, the rest through upkeep()). */
  expire(nowMs: number): void {
    this.expireSome(nowMs, DROP_SLICE);
  }

  /** Drops up to `max` expired messages from the head; returns whether more may be left. */
  private expireSome(nowMs: number, max: number): boolean {
    let dropped = 0;
    for (let head = this.ready.peek(); head && head.expiresAtMs < nowMs; head = this.ready.peek()) {
      if (dropped++ === max) return this.needsUpkeep();
      this.ready.shift();
      this.hooks.discarded(this, head, "expired");
    }
    return false;
  }

  /** Whether x-expires says this queue has been unused long enough to be deleted. */
  isExpired(nowMs: number): boolean {
    const expires = this.settings.expiresMs;
    return expires !== undefined && this.consumers.size === 0 && nowMs - this.lastUsedMs >= expires;
  }

  // --- end -----------------------------------------------------------------

  /**
   * Drops every ready message (not the unacknowledged ones); returns how many. The
   * queue is empty at once; their store claims are let go on later turns.
   */
  purge(): number {
    const count = this.messageCount;
    if (count === 0) return 0;
    const detached = new DetachedEntries(this.hooks.memory);
    this.ready.detach(detached);
    this.delayed.detach(detached);
    this.hooks.releaseLater(this, detached);
    return count;
  }

  /** Marks the queue deleted, cancels its consumers and returns the ready count it had. */
  delete(): number {
    if (this.deleted) return 0;
    const count = this.purge();
    this.deleted = true;
    for (const c of this.consumers.takeAll()) c.sink.cancelledByQueue(c, "queue-deleted");
    return count;
  }

  // --- figures -------------------------------------------------------------

  stats(): QueueStats {
    return classicQueueStats(this);
  }

  peekReady(max: number): QueueEntry[] {
    if (max === 1) {
      const head = this.messageCount > 0 ? this.ready.peek() : undefined;
      return head ? [head] : [];
    }
    if (this.ready.inMemory === 0) return [];
    return this.ready.toArray().slice(0, max);
  }

  /**
   * The properties a delivery carries: as published, except that a redelivery from a
   * queue with a delivery limit or retry delay carries x-delivery-count, the number
   * of earlier deliveries (as RabbitMQ's quorum queues do).
   */
  deliveryProperties(entry: QueueEntry): Buffer {
    const s = this.settings;
    if (
      entry.deliveryCount <= 1 ||
      (s.deliveryLimit === undefined && s.retryDelayMs === undefined)
    ) {
      return entry.message.properties;
    }
    return withHeader(entry.message.properties, entry.message.summary, "x-delivery-count", {
      type: "l",
      value: BigInt(entry.deliveryCount - 1),
    });
  }

  /** A delivery awaiting its ack stays in memory: it counts against the node's budget. */
  private holdUnacked(entry: QueueEntry): void {
    this.unacked++;
    this.unackedBytes += entry.message.body.length;
    this.hooks.memory?.charge(entryBytes(entry));
  }

  private release(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void {
    this.unacked--;
    this.unackedBytes -= entry.message.body.length;
    this.hooks.memory?.credit(entryBytes(entry));
    if (!consumer) return;
    consumer.unacked--;
    // A single active consumer hands over once the old one has nothing outstanding.
    if (this.consumers.settled(consumer)) this.dispatch(nowMs);
  }

  private countDelivery(entry: QueueEntry): void {
    this.totals.delivered++;
    if (entry.redelivered) this.totals.redelivered++;
  }

  private deliverTo(consumer: Consumer, entry: QueueEntry, nowMs: number): void {
    entry.deliveryCount++;
    this.countDelivery(entry);
    this.lastUsedMs = nowMs;
    this.pressure.delivered(nowMs);
    if (consumer.options.noAck) {
      consumer.sink.deliver(consumer, entry, this);
      this.hooks.settled(this, entry);
      return;
    }
    this.holdUnacked(entry);
    consumer.unacked++;
    this.hooks.delivering(this, entry);
    consumer.sink.deliver(consumer, entry, this);
  }
}
