import type { ColdIndex } from "../message/cold-index.js";
import type { Message } from "../message/message.js";
import type { FieldTable } from "../protocol/field-table.js";
import type { Consumer, ConsumerOptions, ConsumerSink } from "./consumer.js";
import type { EnqueueOutcome } from "./enqueue-outcome.js";
import type { QueuePressure } from "./queue-pressure.js";
import type { QueueSettings } from "./queue-settings.js";

/*
 * The seam between a queue and everything that uses one (RabbitMQ's
 * rabbit_queue_type): the connection, routing, management and doctor code ask a
 * queue only what `Queue` offers, and a queue is built by the `QueueType` its
 * x-queue-type names (queue-types.ts). Classic queues are one such type
 * (classic-queue-type.ts); replicated (quorum) and stream queues register
 * beside them without a change to the code that uses queues.
 */

export interface QueueDefinition {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

/**
 * A message as a queue hands it to a consumer or basic.get. The channel sends it
 * and gives the same object back to settle it (ack, requeue, reject); what else a
 * queue keeps in it is the queue's own business.
 */
export interface QueueDelivery {
  readonly message: Message;
  /** AMQP's redelivered flag: it was delivered before and not acknowledged. */
  readonly redelivered: boolean;
  /** Times it was delivered, this time included (a poison message's count climbs). */
  readonly deliveryCount: number;
}

/**
 * A queue's figures at one moment, as read-only values: what management, metrics
 * and the doctor show. Totals count since the node started.
 */
export interface QueueStats {
  /** Ready messages (including those waiting for a retry delay). */
  readonly messagesReady: number;
  readonly messagesUnacknowledged: number;
  readonly messageBytesReady: number;
  readonly messageBytesUnacknowledged: number;
  /** Ready messages held in memory; the rest are paged out to disk. */
  readonly messagesReadyRam: number;
  /** Body bytes of ready and unacknowledged messages held in memory. */
  readonly messageBytesRam: number;
  readonly messagesPagedOut: number;
  readonly messageBytesPagedOut: number;
  /** An estimate of the memory the queue holds, in bytes. */
  readonly memoryBytes: number;
  readonly consumers: number;
  /** The fraction of consumers that could take a message now (RabbitMQ's consumer_capacity). */
  readonly consumerCapacity: number;
  readonly exclusiveConsumerTag: string | undefined;
  readonly published: number;
  readonly delivered: number;
  readonly redelivered: number;
  readonly acked: number;
  /** Last consume, get or declaration (x-expires counts from here while it has no consumer). */
  readonly lastUsedMs: number;
  /** "running"; a replicated queue without its majority is "minority" (RabbitMQ's word). */
  readonly state: string;
}

/**
 * Where the queues that live on another node of the cluster are reached
 * (cluster/queues/): publishes routed to several queues of one home node go to it
 * together, as one message.
 */
export interface RemoteHome {
  /** The node the queues live on. */
  readonly node: string;
  enqueueAll(queues: readonly Queue[], message: Message, nowMs: number): EnqueueOutcome;
}

/** A queue's counts as declare-ok and basic.get-ok report them. */
export interface QueueCounts {
  readonly messageCount: number;
  readonly consumerCount: number;
}

/** What the connection, routing, management and doctor code may ask of any queue. */
export interface Queue {
  /** Routing's destination kind (routing/binding.ts). */
  readonly kind: "queue";
  /** Its queue type's name: "classic", or the x-queue-type it was declared with. */
  readonly type: string;
  readonly name: string;
  readonly definition: QueueDefinition;
  /** Its id, never reused: definitions and the message store name it by this. */
  readonly storeId: number;
  /** Whether its messages survive a restart: durable and not exclusive (RabbitMQ). */
  readonly isDurable: boolean;
  /** The connection that owns an exclusive queue (compared by identity), else null. */
  readonly exclusiveOwner: object | null;
  /** Set once it is deleted: late settles are ignored. */
  readonly deleted: boolean;
  /** Its arguments resolved with the policies that match it. */
  readonly settings: QueueSettings;
  /**
   * The definitions version that holds this queue (metadata bookkeeping, set by
   * the declare): a redeclaration waits only until that version is saved.
   */
  definitionsVersion: number;
  /** Ready messages: queue.declare-ok, basic.get-ok and delete's if-empty read it. */
  readonly messageCount: number;
  readonly consumerCount: number;
  /** The single active consumer of an x-single-active-consumer queue. */
  readonly activeConsumer: Consumer | undefined;
  /** Whether it falls behind its publishers (publisher flow control); none: never holds them. */
  readonly pressure: QueuePressure | undefined;
  /**
   * Set when the queue lives on another node of the cluster (its home): this node holds
   * only a stand-in that forwards to it. Its publishes are grouped by home, and the
   * methods below that end in AtHome ask the home (basic.get, declare-ok's counts, purge).
   */
  readonly remote?: RemoteHome;

  // --- publishing ----------------------------------------------------------

  /**
   * Puts a message on the queue. The outcome says when it is safe (and so when its
   * confirm may go), or that the queue refused it and why.
   */
  enqueue(message: Message, nowMs: number): EnqueueOutcome;

  // --- consuming -----------------------------------------------------------

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer;
  removeConsumer(consumer: Consumer, nowMs: number): void;
  /**
   * The consumer's channel is closing (before removeConsumer and the requeue of what it
   * holds): a queue that counts returns (a quorum queue's x-delivery-count) takes everything
   * back at once, uncounted, and ignores the requeues that follow. Absent: nothing special.
   */
  channelClosing?(consumer: Consumer): void;
  hasExclusiveConsumer(): boolean;
  /** Its consumers, highest priority first (for listings). */
  readonly consumerList: readonly Consumer[];
  /** Credit came back to its consumers (ack, socket drained, qos): deliver what it can. */
  dispatch(nowMs: number): void;
  /** basic.get: the next message, now delivered (with no-ack, settled too). */
  fetch(noAck: boolean, nowMs: number): QueueDelivery | undefined;
  /** basic.get of a queue on another node; a home that is down is 404 in RabbitMQ's words. */
  fetchAtHome?(noAck: boolean, nowMs: number): Promise<QueueDelivery | undefined>;
  /** The home's counts for declare-ok (404 when the home is down). */
  countsAtHome?(): Promise<QueueCounts>;
  /** Throws RabbitMQ's 404 while the queue's home is out of reach (checked before consume-ok). */
  assertReachable?(): void;
  /** The content header's property bytes a delivery carries (the queue may add x-delivery-count). */
  deliveryProperties(delivery: QueueDelivery): Buffer;

  // --- settling ------------------------------------------------------------

  ack(delivery: QueueDelivery, consumer: Consumer | undefined, nowMs: number): void;
  /** Back to the queue, redelivered (or dead-lettered past a delivery limit). */
  requeue(delivery: QueueDelivery, consumer: Consumer | undefined, nowMs: number): void;
  /** Rejected without requeue: dead-lettered or dropped. */
  reject(delivery: QueueDelivery, consumer: Consumer | undefined, nowMs: number): void;

  // --- upkeep and end ------------------------------------------------------

  /** A queue.declare of it (passive or not) renews its x-expires lease. */
  declared(nowMs: number): void;
  /** The runtime's tick: TTLs, retry delays, stalled page-ins. */
  tick(nowMs: number): void;
  /** Whether x-expires says it has been unused long enough to be deleted. */
  isExpired(nowMs: number): boolean;
  /** New settings (a policy changed): limits apply to what it holds at once. */
  applySettings(settings: QueueSettings, nowMs: number): void;
  /** Drops every ready message; returns how many. */
  purge(): number;
  /** queue.purge of a queue on another node: done by its home. */
  purgeAtHome?(): Promise<number>;
  /** Deletes it: ready messages dropped, consumers cancelled; returns the ready count. */
  delete(): number;
  /**
   * A queue whose messages live in the node's message store (classic) takes the
   * ones recovered at start; a queue type with its own log has no such method.
   */
  adoptRecovered?(recovered: ColdIndex): void;

  // --- figures -------------------------------------------------------------

  stats(): QueueStats;
  /** Up to `max` ready messages from the head, of those in memory (the doctor looks at them). */
  peekReady(max: number): QueueDelivery[];
}

/** What a queue type is given to build one queue. */
export interface QueueCreation {
  readonly definition: QueueDefinition;
  readonly storeId: number;
  readonly settings: QueueSettings;
  /** The declaring connection of an exclusive queue. */
  readonly exclusiveOwner: object | null;
  readonly nowMs: number;
  /** A replicated queue's members (the nodes holding its replicas), as declared. */
  readonly members?: readonly string[];
}

/**
 * One kind of queue, as x-queue-type names it: builds its queues and, when it can
 * do better than one queue at a time, enqueues a message on several of them at
 * once (a classic fanout writes a persistent message's body to the store once).
 */
export interface QueueType {
  readonly name: string;
  /**
   * Replicated across the cluster (quorum): every node builds its own queue of this type,
   * never a stand-in forwarding to a home.
   */
  readonly replicated?: boolean;
  create(creation: QueueCreation): Queue;
  /** Puts one message on several queues of this type; without it, each queue's enqueue. */
  enqueueAll?(queues: readonly Queue[], message: Message, nowMs: number): EnqueueOutcome;
  /**
   * Checks a declaration's arguments (406 in RabbitMQ's words); without it, the
   * classic queue's rules apply.
   */
  validateArguments?(definition: QueueDefinition): void;
}
