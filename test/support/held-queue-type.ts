import type { Message } from "../../src/message/message.js";
import { Consumer, type ConsumerOptions, type ConsumerSink } from "../../src/queue/consumer.js";
import {
  ACCEPTED_RESULT,
  type EnqueueOutcome,
  PendingOutcome,
  type RefusalReason,
  refusedResult,
} from "../../src/queue/enqueue-outcome.js";
import type { QueueSettings } from "../../src/queue/queue-settings.js";
import type {
  Queue,
  QueueCreation,
  QueueDefinition,
  QueueDelivery,
  QueueStats,
  QueueType,
} from "../../src/queue/queue-type.js";

/** A message in a HeldQueue, as it hands it out. */
interface HeldDelivery extends QueueDelivery {
  redelivered: boolean;
  deliveryCount: number;
}

/**
 * A second queue type, in memory, for tests of the queue-type seam: a message is
 * held until the test commits it (as a replicated queue holds it until a majority
 * has it), and only then is its enqueue accepted and the message offered to
 * consumers. `refuse` refuses the held ones instead (a queue that lost its majority).
 */
export class HeldQueue implements Queue {
  readonly kind = "queue" as const;
  readonly deleted = false;
  readonly exclusiveOwner: object | null;
  readonly definition: QueueDefinition;
  readonly storeId: number;
  settings: QueueSettings;
  definitionsVersion = 0;
  readonly pressure = undefined;
  readonly activeConsumer = undefined;
  /** Enqueued and not yet committed or refused. */
  readonly held: { message: Message; outcome: PendingOutcome }[] = [];
  /** Ids of messages acknowledged, in order. */
  readonly acked: number[] = [];
  private readonly ready: HeldDelivery[] = [];
  private consumers: Consumer[] = [];
  private unacked = 0;
  private published = 0;
  private lastUsedMs: number;

  constructor(
    readonly type: string,
    c: QueueCreation,
  ) {
    this.definition = c.definition;
    this.storeId = c.storeId;
    this.settings = c.settings;
    this.exclusiveOwner = c.exclusiveOwner;
    this.lastUsedMs = c.nowMs;
  }

  get name(): string {
    return this.definition.name;
  }

  get isDurable(): boolean {
    return this.definition.durable && !this.definition.exclusive;
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

  enqueue(message: Message): EnqueueOutcome {
    const outcome = new PendingOutcome();
    this.held.push({ message, outcome });
    return outcome;
  }

  /** The held messages are safe now: accepted, and ready for consumers. */
  commit(nowMs: number): void {
    for (const { message, outcome } of this.held.splice(0)) {
      this.published++;
      this.ready.push({ message, redelivered: false, deliveryCount: 0 });
      outcome.settle(ACCEPTED_RESULT);
    }
    this.dispatch(nowMs);
  }

  /** The held messages are refused (and dropped). */
  refuse(reason: RefusalReason): void {
    for (const { outcome } of this.held.splice(0)) outcome.settle(refusedResult(reason, reason));
  }

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer {
    const consumer = new Consumer(options, this, sink, nowMs);
    this.consumers.push(consumer);
    this.dispatch(nowMs);
    return consumer;
  }

  removeConsumer(consumer: Consumer): void {
    this.consumers = this.consumers.filter((c) => c !== consumer);
  }

  hasExclusiveConsumer(): boolean {
    return this.consumers.some((c) => c.options.exclusive);
  }

  dispatch(_nowMs: number): void {
    for (const c of this.consumers) {
      while (this.ready.length > 0 && c.belowPrefetch && c.sink.hasCredit(c)) {
        const d = this.ready.shift()!;
        d.deliveryCount++;
        if (!c.options.noAck) {
          c.unacked++;
          this.unacked++;
        }
        c.sink.deliver(c, d, this);
      }
    }
  }

  fetch(noAck: boolean): QueueDelivery | undefined {
    const d = this.ready.shift();
    if (!d) return undefined;
    d.deliveryCount++;
    if (!noAck) this.unacked++;
    return d;
  }

  deliveryProperties(delivery: QueueDelivery): Buffer {
    return delivery.message.properties;
  }

  ack(delivery: QueueDelivery, consumer: Consumer | undefined, nowMs: number): void {
    this.settle(consumer);
    this.acked.push(delivery.message.id);
    this.dispatch(nowMs);
  }

  requeue(delivery: QueueDelivery, consumer: Consumer | undefined, nowMs: number): void {
    this.settle(consumer);
    const d = delivery as HeldDelivery;
    d.redelivered = true;
    this.ready.unshift(d);
    this.dispatch(nowMs);
  }

  reject(_delivery: QueueDelivery, consumer: Consumer | undefined): void {
    this.settle(consumer);
  }

  private settle(consumer: Consumer | undefined): void {
    this.unacked--;
    if (consumer) consumer.unacked--;
  }

  declared(nowMs: number): void {
    this.lastUsedMs = nowMs;
  }

  tick(): void {}

  isExpired(): boolean {
    return false;
  }

  applySettings(settings: QueueSettings): void {
    this.settings = settings;
  }

  purge(): number {
    return this.ready.splice(0).length;
  }

  delete(): number {
    const count = this.purge();
    for (const c of this.consumers.splice(0)) c.sink.cancelledByQueue(c, "queue-deleted");
    return count;
  }

  stats(): QueueStats {
    const bytes = this.ready.reduce((n, d) => n + d.message.body.length, 0);
    return {
      messagesReady: this.ready.length,
      messagesUnacknowledged: this.unacked,
      messageBytesReady: bytes,
      messageBytesUnacknowledged: 0,
      messagesReadyRam: this.ready.length,
      messageBytesRam: bytes,
      messagesPagedOut: 0,
      messageBytesPagedOut: 0,
      memoryBytes: bytes,
      consumers: this.consumers.length,
      consumerCapacity: this.consumers.length > 0 ? 1 : 0,
      exclusiveConsumerTag: undefined,
      published: this.published,
      delivered: 0,
      redelivered: 0,
      acked: this.acked.length,
      lastUsedMs: this.lastUsedMs,
      state: "running",
    };
  }

  peekReady(max: number): QueueDelivery[] {
    return this.ready.slice(0, max);
  }
}

/** The queue type of HeldQueues, named `name`; `queues` lists those it built. */
export function heldQueueType(name = "held"): QueueType & { readonly queues: HeldQueue[] } {
  const queues: HeldQueue[] = [];
  return {
    name,
    queues,
    create: (c) => {
      const q = new HeldQueue(name, c);
      queues.push(q);
      return q;
    },
  };
}
