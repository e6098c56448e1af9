/**
 * The stand-in a node holds for a classic queue whose home is another node (RabbitMQ's
 * classic queues live on one node and are reached from every other). It routes like any
 * queue (bindings point at it), and everything that touches messages goes to the home
 * through its RemoteHomeNode: publishes, consumers (with credit), basic.get, settles,
 * purge, and declare-ok's counts. What it reports for listings is the home's figures as
 * last fetched (refreshed every few seconds by the forwarding).
 */
import type { Message } from "../../message/message.js";
import { channelError } from "../../protocol/amqp-error.js";
import { toTaggedJson } from "../../protocol/field-table-json.js";
import { Consumer, type ConsumerOptions, type ConsumerSink } from "../../queue/consumer.js";
import type { EnqueueOutcome } from "../../queue/enqueue-outcome.js";
import type { QueueSettings } from "../../queue/queue-settings.js";
import type {
  QueueCounts,
  QueueCreation,
  QueueDefinition,
  QueueDelivery,
  QueueStats,
} from "../../queue/queue-type.js";
import {
  decodeCountsAnswer,
  decodeGetAnswer,
  decodePurgeAnswer,
  decodeResult,
  encodeConsume,
  encodeGet,
  encodeRefs,
  type QueueRef,
  QueueRequest,
} from "./queue-wire.js";
import {
  homeDownError,
  type RemoteConsumer,
  type RemoteDelivery,
  type RemoteHomeNode,
  type RemoteQueueLike,
} from "./remote-home.js";

/** Owner of an exclusive queue of another node: no connection here may use it (405). */
const ELSEWHERE: object = Object.freeze({ owner: "a connection of another node" });

/** What a queue reports before the home's first figures arrive. */
function emptyStats(): QueueStats {
  return {
    messagesReady: 0,
    messagesUnacknowledged: 0,
    messageBytesReady: 0,
    messageBytesUnacknowledged: 0,
    messagesReadyRam: 0,
    messageBytesRam: 0,
    messagesPagedOut: 0,
    messageBytesPagedOut: 0,
    memoryBytes: 0,
    consumers: 0,
    consumerCapacity: 0,
    exclusiveConsumerTag: undefined,
    published: 0,
    delivered: 0,
    redelivered: 0,
    acked: 0,
    lastUsedMs: 0,
    state: "running",
  };
}

export class RemoteQueue implements RemoteQueueLike {
  readonly kind = "queue" as const;
  readonly type = "classic";
  readonly definition: QueueDefinition;
  readonly storeId: number;
  readonly isDurable: boolean;
  readonly exclusiveOwner: object | null;
  readonly ref: QueueRef;
  settings: QueueSettings;
  definitionsVersion = 0;
  deleted = false;
  readonly activeConsumer = undefined;
  private readonly consumers = new Map<Consumer, RemoteConsumer>();
  private last: QueueStats = emptyStats();

  constructor(
    creation: QueueCreation,
    readonly remote: RemoteHomeNode,
  ) {
    const def = creation.definition;
    this.definition = def;
    this.storeId = creation.storeId;
    this.isDurable = def.durable && !def.exclusive;
    this.exclusiveOwner = def.exclusive ? ELSEWHERE : null;
    this.settings = creation.settings;
    this.ref = { vhost: def.vhost, name: def.name, storeId: creation.storeId };
    remote.queues.add(this);
  }

  /** Publisher flow control: the home's unanswered publishes (RemoteHomeNode.pressure). */
  get pressure() {
    return this.remote.pressure;
  }

  get name(): string {
    return this.definition.name;
  }

  get messageCount(): number {
    return this.last.messagesReady;
  }

  get consumerCount(): number {
    return this.last.consumers;
  }

  get consumerList(): readonly Consumer[] {
    return [...this.consumers.keys()];
  }

  assertReachable(): void {
    this.requireHome();
  }

  /** 404 in RabbitMQ's words while the home is out of reach. */
  private requireHome(): void {
    if (!this.remote.reachable) throw homeDownError(this.remote.node, this.ref, this.isDurable);
  }

  // --- publishing ----------------------------------------------------------

  enqueue(message: Message, nowMs: number): EnqueueOutcome {
    return this.remote.enqueueAll([this], message, nowMs);
  }

  // --- consuming -----------------------------------------------------------

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer {
    this.requireHome();
    const consumer = new Consumer(options, this, sink, nowMs);
    const rc = this.remote.addConsumer(consumer, this);
    this.consumers.set(consumer, rc);
    const payload = encodeConsume({
      consumerId: rc.id,
      queue: this.ref,
      tag: options.tag,
      noAck: options.noAck,
      exclusive: options.exclusive,
      priority: options.priority,
      prefetchCount: options.prefetchCount,
      argumentsJson: JSON.stringify(toTaggedJson(options.arguments)),
      credit: rc.inFlight,
    });
    // consume-ok went out already; a refusal by the home ends the consumer with basic.cancel.
    this.remote.request(QueueRequest.consume, payload).then(
      (answer) => {
        if (decodeResult(answer)) this.endConsumer(consumer);
      },
      () => this.endConsumer(consumer),
    );
    return consumer;
  }

  private endConsumer(consumer: Consumer): void {
    const rc = this.consumers.get(consumer);
    if (!rc) return;
    this.consumers.delete(consumer);
    this.remote.refusedConsume(rc);
  }

  removeConsumer(consumer: Consumer, _nowMs: number): void {
    const rc = this.consumers.get(consumer);
    if (!rc) return;
    this.consumers.delete(consumer);
    this.remote.removeConsumer(rc);
  }

  /** The home ended one of this queue's consumers (or the link): forget it here. */
  forget(consumer: Consumer): void {
    this.consumers.delete(consumer);
  }

  hasExclusiveConsumer(): boolean {
    if (this.last.exclusiveConsumerTag !== undefined) return true;
    for (const c of this.consumers.keys()) if (c.options.exclusive) return true;
    return false;
  }

  dispatch(_nowMs: number): void {
    for (const rc of this.consumers.values()) this.remote.drain(rc);
  }

  /** A basic.get is asked of the home (fetchAtHome); nothing is held here. */
  fetch(_noAck: boolean, _nowMs: number): QueueDelivery | undefined {
    return undefined;
  }

  async fetchAtHome(noAck: boolean, _nowMs: number): Promise<QueueDelivery | undefined> {
    this.requireHome();
    const answer = decodeGetAnswer(
      await this.remote.request(QueueRequest.get, encodeGet(this.ref, noAck)),
    );
    if (answer.kind === "error") throw channelError(answer.error.code, answer.error.text);
    this.last = { ...this.last, messagesReady: answer.messageCount };
    return answer.kind === "empty" ? undefined : this.remote.delivery(answer.delivery);
  }

  async countsAtHome(): Promise<QueueCounts> {
    this.requireHome();
    const answer = await this.remote.request(QueueRequest.declare, encodeRefs([this.ref]));
    this.refreshed(decodeCountsAnswer(answer)[0] ?? null);
    return { messageCount: this.messageCount, consumerCount: this.consumerCount };
  }

  deliveryProperties(delivery: QueueDelivery): Buffer {
    return (delivery as RemoteDelivery).properties;
  }

  // --- settling ------------------------------------------------------------

  ack(delivery: QueueDelivery, consumer: Consumer | undefined, _nowMs: number): void {
    this.settled(delivery, consumer, "ack");
  }

  requeue(delivery: QueueDelivery, consumer: Consumer | undefined, _nowMs: number): void {
    this.settled(delivery, consumer, "requeue");
  }

  reject(delivery: QueueDelivery, consumer: Consumer | undefined, _nowMs: number): void {
    this.settled(delivery, consumer, "reject");
  }

  private settled(
    delivery: QueueDelivery,
    consumer: Consumer | undefined,
    outcome: "ack" | "requeue" | "reject",
  ): void {
    if (consumer && !consumer.options.noAck) consumer.unacked--;
    this.remote.settle(delivery as RemoteDelivery, outcome);
    const rc = consumer ? this.consumers.get(consumer) : undefined;
    if (rc) this.remote.drain(rc);
  }

  // --- upkeep and end ------------------------------------------------------

  /** x-expires is the home's to decide: a declaration here renews it there (countsAtHome). */
  declared(_nowMs: number): void {}

  tick(_nowMs: number): void {}

  isExpired(_nowMs: number): boolean {
    return false;
  }

  applySettings(settings: QueueSettings, _nowMs: number): void {
    this.settings = settings;
  }

  /** queue.purge goes to the home (purgeAtHome); nothing is held here. */
  purge(): number {
    return 0;
  }

  async purgeAtHome(): Promise<number> {
    this.requireHome();
    const answer = decodePurgeAnswer(
      await this.remote.request(QueueRequest.purge, encodeRefs([this.ref])),
    );
    if ("code" in answer) throw channelError(answer.code, answer.text);
    return answer.count;
  }

  /** The queue was deleted: its consumers here are cancelled; the home drops its messages. */
  delete(): number {
    this.deleted = true;
    this.remote.queues.delete(this);
    for (const [consumer, rc] of [...this.consumers]) {
      this.consumers.delete(consumer);
      this.remote.removeConsumer(rc);
      consumer.sink.cancelledByQueue(consumer, "queue-deleted");
    }
    return this.last.messagesReady;
  }

  // --- figures -------------------------------------------------------------

  stats(): QueueStats {
    return this.remote.reachable ? this.last : { ...this.last, state: "down" };
  }

  refreshed(stats: unknown): void {
    if (stats !== null && typeof stats === "object") this.last = { ...emptyStats(), ...stats };
  }

  peekReady(_max: number): QueueDelivery[] {
    return [];
  }
}
