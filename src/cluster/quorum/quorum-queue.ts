/**
 * A quorum queue as the connections of one node use it (rabbit_fifo_client's part): every
 * node holds one for every quorum queue, member of its group or not. What touches messages
 * becomes a command to the group's leader (QuorumNode.pipeOf): a publish is confirmed once
 * its enqueue is applied (committed on a majority, each after its fdatasync); consumers are
 * checked out in the replicated state and receive what the leader hands them; settles go
 * back in batches, one command per consumer and kind each turn.
 *
 * Deliveries are named by the message's id (its enqueue's log index), so an ack reaches the
 * right message whichever replica leads when it arrives, and a delivery a new leader sends
 * again is recognised and dropped.
 */
import { type Message, ownExpiryMs } from "../../message/message.js";
import { channelError } from "../../protocol/amqp-error.js";
import { withHeader } from "../../protocol/content-properties.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import { Consumer, type ConsumerOptions, type ConsumerSink } from "../../queue/consumer.js";
import { Deque } from "../../queue/deque.js";
import {
  ACCEPTED_RESULT,
  type EnqueueOutcome,
  PendingOutcome,
  refusedResult,
} from "../../queue/enqueue-outcome.js";
import type { QueueSettings } from "../../queue/queue-settings.js";
import type {
  Queue,
  QueueCounts,
  QueueCreation,
  QueueDefinition,
  QueueDelivery,
  QueueStats,
} from "../../queue/queue-type.js";
import type { QuorumCommand } from "../../quorum/quorum-commands.js";
import type { QuorumDelivery, QuorumMachine } from "../../quorum/quorum-machine.js";
import { encodePublish } from "../../store/message-records.js";
import { messageOf } from "./quorum-config.js";
import type { ProposeAnswer } from "./quorum-wire.js";

/** A delivery of a quorum queue: the channel gives it back to settle it. */
export interface QuorumQueueDelivery extends QueueDelivery {
  readonly id: number;
  readonly attempt: number;
  /** The consumer key it was checked out to (the node's basic.get key for a get). */
  readonly holder: string;
}

/** What a quorum queue needs of its node (QuorumService). */
export interface QuorumNode {
  readonly nodeName: string;
  /** Tells this node's publishers from those of its earlier runs. */
  readonly incarnation: string;
  clock(): number;
  /** Sends a command through the queue's pipe; resolves once applied or failed. */
  submit(queue: QuorumQueue, command: QuorumCommand, timeoutMs: number): Promise<ProposeAnswer>;
  /** Proposes once (no resend): basic.get. */
  submitOnce(queue: QuorumQueue, command: QuorumCommand): Promise<ProposeAnswer>;
  /** This node's replica's machine, when it holds one. */
  localMachine(queue: QuorumQueue): QuorumMachine | undefined;
  /** In a cluster (a single node's replica leads every group and is never behind). */
  readonly clustered: boolean;
  /** The leader's counts (this node's own when no leader answers in time). */
  leaderCounts(queue: QuorumQueue): Promise<QueueCounts>;
  /** Settles waiting in this turn go out at its end. */
  afterTurn(fn: () => void): void;
  /** Its settings changed (a policy): the leader replicates them. */
  settingsChanged(queue: QuorumQueue): void;
  /** The queue is being deleted: its replica and pipe go. */
  deleted(queue: QuorumQueue): void;
}

/** How long a publish may wait for a leader to apply it before its confirm is a nack. */
export const PUBLISH_TIMEOUT_MS = 30_000;
/** Settles, checkouts and cancels wait longer: nothing answers a client for them. */
const SETTLE_TIMEOUT_MS = 120_000;
/** What a consumer without a prefetch may hold unsettled across the cluster. */
const DEFAULT_WINDOW = 2_000;

interface LocalConsumer {
  readonly key: string;
  readonly consumer: Consumer;
  /** Handed over by the leader, not yet given to the client. */
  readonly buffer: Deque<QuorumDelivery>;
  /** Given to the client or buffered, not yet settled: id -> attempt. */
  readonly held: Map<number, number>;
  gone: boolean;
}

type SettleKind = "settle" | "return" | "discard" | "release";

export class QuorumQueue implements Queue {
  readonly kind = "queue" as const;
  readonly type = "quorum";
  readonly definition: QueueDefinition;
  readonly storeId: number;
  readonly isDurable = true;
  readonly exclusiveOwner = null;
  readonly groupId: string;
  /** The nodes holding a replica, as declared (the group's membership may change later). */
  members: readonly string[];
  settings: QueueSettings;
  definitionsVersion = 0;
  deleted = false;
  readonly pressure = undefined;
  private readonly locals = new Map<string, LocalConsumer>();
  private readonly byConsumer = new Map<Consumer, LocalConsumer>();
  /** Consumers whose channel closed (their requeues are ignored); weakly held. */
  private readonly closedConsumers = new WeakSet<Consumer>();
  /**
   * Deliveries (id:attempt) whose settle of any kind was sent and not yet applied: a new
   * leader's resend of them is dropped; a redelivery (a later attempt) is not.
   */
  private readonly settling = new Set<string>();
  private readonly batches = new Map<string, Map<SettleKind, QuorumDeliveryRef[]>>();
  private flushQueued = false;
  private nextConsumer = 1;
  private seq = 0;
  private readonly publisher: string;
  private readonly getKey: string;
  private lastUsedMs: number;
  private readonly counts = { published: 0, delivered: 0, redelivered: 0, acked: 0 };
  /**
   * declare-ok's counts in a cluster, as RabbitMQ's stat asks the leader: this node's replica
   * may not have applied the enqueues just confirmed to a publisher. (A single node answers
   * from its replica, after its definitions are saved.)
   */
  readonly countsAtHome?: () => Promise<QueueCounts>;

  constructor(
    creation: QueueCreation,
    members: readonly string[],
    private readonly node: QuorumNode,
  ) {
    this.definition = creation.definition;
    this.storeId = creation.storeId;
    this.settings = creation.settings;
    this.members = members;
    this.groupId = quorumGroupId(creation.storeId);
    this.publisher = `${node.nodeName}/${node.incarnation}`;
    this.getKey = `${node.nodeName}/${node.incarnation}/get`;
    this.lastUsedMs = creation.nowMs;
    if (node.clustered) this.countsAtHome = () => node.leaderCounts(this);
  }

  get name(): string {
    return this.definition.name;
  }

  private get machine(): QuorumMachine | undefined {
    return this.node.localMachine(this);
  }

  get messageCount(): number {
    return this.machine?.readyCount ?? 0;
  }

  get consumerCount(): number {
    return this.machine?.consumerCount ?? this.locals.size;
  }

  get activeConsumer(): Consumer | undefined {
    if (!this.settings.singleActiveConsumer) return undefined;
    const active = this.machine?.activeConsumer();
    return active === undefined ? undefined : this.locals.get(active.key)?.consumer;
  }

  get consumerList(): readonly Consumer[] {
    return [...this.locals.values()].map((l) => l.consumer).sort((a, b) => b.priority - a.priority);
  }

  // ------------------------------------------------------------------ publishing

  enqueue(message: Message, nowMs: number): EnqueueOutcome {
    this.counts.published++;
    const outcome = new PendingOutcome();

    const command: QuorumCommand = {
      type: "enqueue",
      publisher: this.publisher,
      node: this.node.nodeName,
      seq: ++this.seq,
      nowMs,
      expiresAtMs: ownExpiryMs(message) ?? 0,
      high: message.summary.priority > 4,
      size: message.body.length,
      payload: encodeMessage(message),
    };
    this.node.submit(this, command, PUBLISH_TIMEOUT_MS).then((answer) => {
      if (answer.status === "applied" && answer.reply.type === "enqueue") {
        outcome.settle(
          answer.reply.accepted
            ? ACCEPTED_RESULT
            : refusedResult(
                "reject-publish",
                `queue '${this.name}' in vhost '${this.definition.vhost}' is full`,
              ),
        );
      } else {
        const detail = answer.status === "failed" ? answer.detail : "no leader";
        outcome.settle(refusedResult("unavailable", detail));
      }
    });
    return outcome;
  }

  // ------------------------------------------------------------------ consuming

  addConsumer(options: ConsumerOptions, sink: ConsumerSink, nowMs: number): Consumer {
    this.lastUsedMs = nowMs;
    const consumer = new Consumer(options, this, sink, nowMs);
    const key = `${this.node.nodeName}/${this.node.incarnation}/${this.nextConsumer++}`;
    const local: LocalConsumer = {
      key,
      consumer,
      buffer: new Deque(),
      held: new Map(),
      gone: false,
    };
    this.locals.set(key, local);
    this.byConsumer.set(consumer, local);
    this.checkout(local, nowMs);
    return consumer;
  }

  /** (Again) asks the leader to serve a local consumer: after a node-down forgot it, too. */
  private checkout(local: LocalConsumer, nowMs: number): void {
    const { options } = local.consumer;
    const window = options.prefetchCount > 0 ? options.prefetchCount : DEFAULT_WINDOW;
    this.command({
      type: "checkout",
      consumer: local.key,
      node: this.node.nodeName,
      tag: options.tag,
      window,
      priority: options.priority,
      nowMs,
    });
  }

  /** Checks out every local consumer again (the leader may have declared this node down). */
  recheckout(nowMs: number): void {
    for (const local of this.locals.values()) if (!local.gone) this.checkout(local, nowMs);
  }

  /**
   * Its channel is closing: everything the consumer holds goes back to the head in one
   * `remove`, as RabbitMQ 4 returns a closed channel's messages: redelivered, not counted as
   * returns (x-delivery-count unchanged).
   */
  channelClosing(consumer: Consumer): void {
    const local = this.byConsumer.get(consumer);
    if (local === undefined || local.gone) return;
    local.gone = true;
    this.locals.delete(local.key);
    this.byConsumer.delete(consumer);
    local.buffer.clear();
    local.held.clear();
    this.flush();
    this.command({ type: "remove", consumer: local.key, nowMs: this.node.clock() });
    this.closedConsumers.add(consumer);
  }

  removeConsumer(consumer: Consumer, nowMs: number): void {
    const local = this.byConsumer.get(consumer);
    if (local === undefined || local.gone) return;
    local.gone = true;
    this.locals.delete(local.key);
    this.byConsumer.delete(consumer);
    // What was handed over but never reached the client goes back uncounted.
    const unseen = local.buffer.clear();
    for (const d of unseen) local.held.delete(d.id);
    if (unseen.length > 0) this.batch(local.key, "release", unseen);
    this.flush();
    this.command({ type: "cancel", consumer: local.key, nowMs });
  }

  hasExclusiveConsumer(): boolean {
    return false;
  }

  /** Deliveries the leader handed to one of this node's consumers. */
  receive(key: string, deliveries: readonly QuorumDelivery[]): void {
    const local = this.locals.get(key);
    if (local === undefined) return;
    for (const d of deliveries) {
      if (local.held.get(d.id) === d.attempt || this.settling.has(refKey(d))) continue;
      local.held.set(d.id, d.attempt);
      local.buffer.push(d);
    }
    this.dispatch(this.node.clock());
  }

  dispatch(nowMs: number): void {
    for (const local of this.locals.values()) {
      const { consumer, buffer } = local;
      while (buffer.length > 0 && consumer.sink.hasCredit(consumer)) {
        const d = buffer.shift()!;
        const delivery = this.toDelivery(d, local.key);
        this.lastUsedMs = nowMs;
        this.counts.delivered++;
        if (d.redelivered) this.counts.redelivered++;
        if (consumer.options.noAck) {
          local.held.delete(d.id);
          this.batch(local.key, "settle", [d]);
          consumer.sink.deliver(consumer, delivery, this);
        } else {
          consumer.unacked++;
          consumer.sink.deliver(consumer, delivery, this);
        }
      }
    }
  }

  fetch(): QueueDelivery | undefined {
    // basic.get goes to the leader: the channel uses fetchAtHome.
    return undefined;
  }

  async fetchAtHome(noAck: boolean, nowMs: number): Promise<QueueDelivery | undefined> {
    this.lastUsedMs = nowMs;
    const answer = await this.node.submitOnce(this, {
      type: "dequeue",
      consumer: this.getKey,
      node: this.node.nodeName,
      noAck,
      nowMs,
    });
    if (answer.status !== "applied" || answer.reply.type !== "dequeue")
      throw unavailableError(this, answer);
    const d = answer.reply.delivery;
    if (d === undefined) return undefined;
    this.counts.delivered++;
    return this.toDelivery(d, this.getKey);
  }

  deliveryProperties(delivery: QueueDelivery): Buffer {
    const { message, deliveryCount } = delivery;
    if (deliveryCount <= 0) return message.properties;
    return withHeader(message.properties, message.summary, "x-delivery-count", {
      type: "l",
      value: BigInt(deliveryCount),
    });
  }

  private toDelivery(d: QuorumDelivery, holder: string): QuorumQueueDelivery {
    return {
      id: d.id,
      attempt: d.attempt,
      holder,
      message: messageOf(d.payload),
      redelivered: d.redelivered,
      deliveryCount: d.deliveryCount,
    };
  }

  // ------------------------------------------------------------------ settling

  ack(delivery: QueueDelivery, consumer: Consumer | undefined): void {
    this.counts.acked++;
    this.settleOne(delivery, consumer, "settle");
  }

  requeue(delivery: QueueDelivery, consumer: Consumer | undefined): void {
    this.settleOne(delivery, consumer, "return");
  }

  reject(delivery: QueueDelivery, consumer: Consumer | undefined): void {
    this.settleOne(delivery, consumer, "discard");
  }

  private settleOne(
    delivery: QueueDelivery,
    consumer: Consumer | undefined,
    kind: SettleKind,
  ): void {
    if (this.deleted) return;
    const d = delivery as QuorumQueueDelivery;
    // The channel closed: `remove` already took it back.
    if (consumer !== undefined && this.closedConsumers.has(consumer)) return;
    if (consumer !== undefined) {
      consumer.unacked = Math.max(0, consumer.unacked - 1);
      const local = this.byConsumer.get(consumer);
      if (local?.held.get(d.id) === d.attempt) local.held.delete(d.id);
    }
    this.batch(d.holder, kind, [d]);
  }

  private batch(holder: string, kind: SettleKind, refs: readonly QuorumDeliveryRef[]): void {
    let kinds = this.batches.get(holder);
    if (kinds === undefined) {
      kinds = new Map();
      this.batches.set(holder, kinds);
    }
    const list = kinds.get(kind);
    if (list === undefined) kinds.set(kind, [...refs]);
    else list.push(...refs);
    for (const ref of refs) this.settling.add(refKey(ref));
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.node.afterTurn(() => this.flush());
    }
  }

  /** One command per holder and kind for everything settled this turn. */
  private flush(): void {
    this.flushQueued = false;
    if (this.batches.size === 0) return;
    const nowMs = this.node.clock();
    for (const [holder, kinds] of this.batches) {
      for (const [kind, refs] of kinds) {
        const ids = refs.map((r) => r.id);
        const command: QuorumCommand = { type: kind, consumer: holder, ids, nowMs };
        this.node.submit(this, command, SETTLE_TIMEOUT_MS).then(() => {
          for (const ref of refs) this.settling.delete(refKey(ref));
        });
      }
    }
    this.batches.clear();
  }

  private command(command: QuorumCommand): void {
    this.node.submit(this, command, SETTLE_TIMEOUT_MS);
  }

  // ------------------------------------------------------------------ upkeep and end

  declared(nowMs: number): void {
    this.lastUsedMs = nowMs;
  }

  tick(): void {}

  isExpired(nowMs: number): boolean {
    const expires = this.settings.expiresMs;
    if (expires === undefined || this.consumerCount > 0) return false;
    return nowMs - this.lastUsedMs >= expires;
  }

  applySettings(settings: QueueSettings): void {
    this.settings = settings;
    this.node.settingsChanged(this);
  }

  purge(): number {
    return 0;
  }

  async purgeAtHome(): Promise<number> {
    const answer = await this.node.submitOnce(this, { type: "purge", nowMs: this.node.clock() });
    if (answer.status !== "applied" || answer.reply.type !== "purge")
      throw unavailableError(this, answer);
    return answer.reply.purged;
  }

  delete(): number {
    const count = this.messageCount;
    this.deleted = true;
    for (const local of this.locals.values()) {
      local.gone = true;
      local.consumer.sink.cancelledByQueue(local.consumer, "queue-deleted");
    }
    this.locals.clear();
    this.byConsumer.clear();
    this.node.deleted(this);
    return count;
  }

  // ------------------------------------------------------------------ figures

  stats(): QueueStats {
    const m = this.machine;
    // Messages waiting out a retry delay count as ready, as on classic queues.
    const ready = (m?.readyCount ?? 0) + (m?.delayed.length ?? 0);
    const unacked = m?.checkedOutCount ?? 0;
    return {
      messagesReady: ready,
      messagesUnacknowledged: unacked,
      messageBytesReady: (m?.readyBytes ?? 0) + (m?.delayedBytes ?? 0),
      messageBytesUnacknowledged: m?.checkedOutBytes ?? 0,
      messagesReadyRam: ready,
      messageBytesRam: (m?.readyBytes ?? 0) + (m?.checkedOutBytes ?? 0),
      messagesPagedOut: 0,
      messageBytesPagedOut: 0,
      memoryBytes: (m?.readyBytes ?? 0) + (m?.checkedOutBytes ?? 0) + (ready + unacked) * 120,
      consumers: this.consumerCount,
      consumerCapacity: this.consumerCount > 0 ? 1 : 0,
      exclusiveConsumerTag: undefined,
      published: m?.totals.enqueued ?? this.counts.published,
      delivered: m?.totals.delivered ?? this.counts.delivered,
      redelivered: m?.totals.redelivered ?? this.counts.redelivered,
      acked: m?.totals.acked ?? this.counts.acked,
      lastUsedMs: this.lastUsedMs,
      state: "running",
    };
  }

  peekReady(): QueueDelivery[] {
    return [];
  }
}

/** Which checkout of which message. */
interface QuorumDeliveryRef {
  readonly id: number;
  readonly attempt: number;
}

function refKey(ref: QuorumDeliveryRef): string {
  return `${ref.id}:${ref.attempt}`;
}

export function quorumGroupId(storeId: number): string {
  return `qq.${storeId}`;
}

/** The message as the log holds it: the message store's publish record, naming no queue. */
export function encodeMessage(message: Message): Buffer {
  return Buffer.concat(encodePublish(message, [], message.persistent));
}

/** 404 in the words RabbitMQ uses for a queue it cannot reach. */
function unavailableError(queue: QuorumQueue, answer: ProposeAnswer) {
  const why = answer.status === "failed" ? answer.detail : "no leader";
  return channelError(
    ReplyCode.NOT_FOUND,
    `queue '${queue.name}' in vhost '${queue.definition.vhost}' is down or inaccessible (quorum queue without a reachable leader: ${why})`,
  );
}
