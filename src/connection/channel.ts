import type { Message } from "../message/message.js";
import { AmqpError, channelError, fitReplyText } from "../protocol/amqp-error.js";
import type { Command } from "../protocol/command-assembler.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { Consumer, ConsumerSink } from "../queue/consumer.js";
import type { Queue, QueueDelivery } from "../queue/queue-type.js";
import { requeueAll } from "../vhost/chores.js";
import type { Publisher } from "../vhost/publishing.js";
import type { VirtualHost } from "../vhost/virtual-host.js";
import type { AmqpConnection } from "./amqp-connection.js";
import { ConfirmTracker } from "./confirm-tracker.js";
import { handleChannelCommand } from "./methods/dispatch.js";

/** A message delivered on this channel and not yet acknowledged. */
export interface Delivery {
  readonly tag: number;
  readonly queue: Queue;
  /** What the queue handed out; it takes the same object back to settle. */
  readonly entry: QueueDelivery;
  /** Undefined for basic.get deliveries. */
  readonly consumer: Consumer | undefined;
  /** For the delivery acknowledgement timeout (consumer_timeout). */
  readonly deliveredAtMs: number;
}

/** A publish or ack held back by a transaction until tx.commit. */
export type TxAction =
  | { readonly kind: "publish"; readonly run: () => void }
  | { readonly kind: "settle"; readonly run: () => void };

/**
 * One AMQP channel: its consumers, its unacknowledged deliveries, its prefetch,
 * and its confirm or transaction mode. It is the ConsumerSink its queues deliver
 * through. Methods are handled in methods/, one file per method group.
 */
export class Channel implements ConsumerSink {
  state: "open" | "closing" = "open";
  /** Set by channel.open; the Channel object exists from the first frame on its number. */
  opened = false;
  readonly consumers = new Map<string, Consumer>();
  /** Unacknowledged deliveries in delivery-tag order (Map keeps insertion order). */
  readonly unacked = new Map<number, Delivery>();
  /** Deliveries counted against a global (per-channel) prefetch: those made by consumers. */
  consumerUnacked = 0;
  private nextDeliveryTag = 1;
  /** basic.qos global=false: the limit each new consumer gets. */
  prefetchCount = 0;
  /** basic.qos global=true: one limit shared by all consumers of the channel. */
  globalPrefetchCount = 0;
  /** The queue a later method may refer to with an empty queue name (AMQP 0-9-1 queue.declare). */
  lastQueueName: string | undefined;
  mode: "normal" | "confirm" | "tx" = "normal";
  readonly confirms = new ConfirmTracker();
  txActions: TxAction[] = [];
  /** Delivery tags settled inside the open transaction (settled for real at tx.commit). */
  readonly txPendingTags = new Set<number>();
  /** What publishing asks of this channel (methods/publish.ts makes it on the first publish). */
  publisher: Publisher | undefined;
  /** Key of this channel's amq.rabbitmq.reply-to consumer, when it has one. */
  replyKey: string | undefined;
  replyConsumerTag: string | undefined;
  private busy: Promise<void> | undefined;
  /** Set by the first shutdown: the channel no longer counts against its user's limit. */
  private released = false;
  private backlog: Command[] = [];
  private heldCancels: string[] | undefined;

  constructor(
    readonly conn: AmqpConnection,
    readonly id: number,
  ) {}

  /** Shut down (closed, or its connection is gone): nothing more is delivered on it. */
  get isReleased(): boolean {
    return this.released;
  }

  get vhost(): VirtualHost {
    return this.conn.vhost!;
  }

  get now(): number {
    return this.conn.broker.clock();
  }

  // --- commands ------------------------------------------------------------

  /**
   * Handles one command. Commands run one at a time in arrival order: a handler
   * that returns a promise (a declare waiting for storage) holds back the next ones.
   */
  handle(command: Command): void {
    if (this.busy) {
      this.backlog.push(command);
      return;
    }
    this.run(command);
  }

  private run(command: Command): void {
    if (this.state === "closing") {
      this.whileClosing(command);
      return;
    }
    let result: void | Promise<void>;
    try {
      result = handleChannelCommand(this, command);
    } catch (e) {
      this.failed(e, command);
      return;
    }
    if (result) {
      this.busy = result.then(
        () => this.resume(),
        (e: unknown) => {
          this.failed(e, command);
          this.resume();
        },
      );
    }
  }

  private resume(): void {
    this.busy = undefined;
    while (!this.busy && this.backlog.length > 0) this.run(this.backlog.shift()!);
  }

  private failed(e: unknown, command: Command): void {
    const err = e instanceof AmqpError ? e.during(command.info.classId, command.info.methodId) : e;
    if (err instanceof AmqpError && err.scope === "channel") {
      this.closeWithError(err);
      return;
    }
    this.conn.fail(err);
  }

  /**
   * We sent channel.close and wait for its close-ok; only close-ok frees the channel
   * number. A channel.close from the client that crossed ours is answered with
   * close-ok, and the channel keeps waiting: the client still owes the close-ok for
   * our close (AMQP 0-9-1 §2.3.5.2; RabbitMQ's rabbit_channel does the same), and a
   * close-ok on a freed number would look like a frame on an unopened channel.
   */
  private whileClosing(command: Command): void {
    if (command.method.name === "channel.close-ok") this.conn.channels.delete(this.id);
    else if (command.method.name === "channel.close") this.send({ name: "channel.close-ok" });
  }

  /** A channel error: channel.close to the client, resources released now. */
  closeWithError(err: AmqpError): void {
    this.conn.broker.log.warn(
      {
        connection: this.conn.name,
        channel: this.id,
        code: err.replyCode,
        vhost: this.conn.vhost?.name,
        user: this.conn.user?.name,
      },
      `channel error on connection ${this.conn.name}, channel ${this.id}: ${err.replyText}`,
    );
    // A channel.close from the client waiting behind a busy command crossed ours: it
    // still gets its close-ok (whileClosing) once the command is done.
    const closes = this.backlog.filter((c) => c.method.name.startsWith("channel.close"));
    this.shutdown();
    this.backlog = closes;
    this.state = "closing";
    this.send({
      name: "channel.close",
      replyCode: err.replyCode,
      replyText: fitReplyText(err.replyText),
      classId: err.classId,
      methodId: err.methodId,
    });
  }

  send(method: Parameters<AmqpConnection["send"]>[1]): void {
    this.conn.send(this.id, method);
  }

  // --- delivery (ConsumerSink) --------------------------------------------

  hasCredit(consumer: Consumer): boolean {
    if (this.state !== "open" || this.conn.outputBlocked) return false;
    if (consumer.options.noAck) return true;
    return this.globalPrefetchCount === 0 || this.consumerUnacked < this.globalPrefetchCount;
  }

  deliver(consumer: Consumer, entry: QueueDelivery, queue: Queue): void {
    const tag = this.nextDeliveryTag++;
    const m = entry.message;
    const properties = queue.deliveryProperties(entry);
    this.conn.writer.content(
      this.id,
      {
        name: "basic.deliver",
        consumerTag: consumer.tag,
        deliveryTag: tag,
        redelivered: entry.redelivered,
        exchange: m.exchange,
        routingKey: m.routingKey,
      },
      properties,
      m.body,
    );
    this.conn.stats.sendCnt++;
    this.conn.requestFlush();
    const counters = this.conn.broker.counters;
    counters.messagesDelivered++;
    if (entry.redelivered) counters.messagesRedelivered++;
    if (!consumer.options.noAck) {
      this.unacked.set(tag, { tag, queue, entry, consumer, deliveredAtMs: this.now });
      this.consumerUnacked++;
    }
  }

  /** A basic.get result: get-ok with the message; returns its delivery tag. */
  deliverGet(entry: QueueDelivery, queue: Queue, noAck: boolean): void {
    const tag = this.nextDeliveryTag++;
    const m = entry.message;
    this.conn.writer.content(
      this.id,
      {
        name: "basic.get-ok",
        deliveryTag: tag,
        redelivered: entry.redelivered,
        exchange: m.exchange,
        routingKey: m.routingKey,
        messageCount: queue.messageCount,
      },
      queue.deliveryProperties(entry),
      m.body,
    );
    this.conn.requestFlush();
    if (!noAck) {
      this.unacked.set(tag, { tag, queue, entry, consumer: undefined, deliveredAtMs: this.now });
    }
  }

  /** A direct reply-to response for this channel's reply consumer (no queue, no ack). */
  deliverReply(message: Message): void {
    if (this.state !== "open" || !this.replyConsumerTag) return;
    this.conn.writer.content(
      this.id,
      {
        name: "basic.deliver",
        consumerTag: this.replyConsumerTag,
        deliveryTag: this.nextDeliveryTag++,
        redelivered: false,
        exchange: message.exchange,
        routingKey: message.routingKey,
      },
      message.properties,
      message.body,
    );
    this.conn.requestFlush();
  }

  cancelledByQueue(consumer: Consumer): void {
    this.consumers.delete(consumer.tag);
    if (this.heldCancels) this.heldCancels.push(consumer.tag);
    else this.sendCancel(consumer.tag);
  }

  /**
   * While this channel deletes a queue, the cancels of its own consumers on it wait for
   * queue.delete-ok: RabbitMQ sends the reply first, and clients waiting for the reply
   * (py-amqp, under oslo.messaging) fail on a cancel that comes before it.
   */
  holdCancels(): void {
    this.heldCancels = [];
  }

  releaseCancels(): void {
    const tags = this.heldCancels ?? [];
    this.heldCancels = undefined;
    for (const tag of tags) this.sendCancel(tag);
  }

  private sendCancel(tag: string): void {
    // RabbitMQ's consumer_cancel_notify: tell clients that understand basic.cancel from the server.
    if (this.state === "open" && this.conn.client.capabilities.has("consumer_cancel_notify")) {
      this.send({ name: "basic.cancel", consumerTag: tag, noWait: true });
    }
  }

  /** Credit came back (ack, socket drained): let the consumers' queues deliver. */
  resumeDeliveries(): void {
    const now = this.now;
    for (const c of this.consumers.values()) c.queue.dispatch(now);
  }

  /** Removes a settled delivery from the unacked books. */
  forget(d: Delivery): void {
    this.unacked.delete(d.tag);
    if (d.consumer) this.consumerUnacked--;
  }

  // --- confirms ------------------------------------------------------------

  /** Called by the connection before its frames are written: coalesced confirms go out. */
  beforeFlush(): void {
    // Nothing after connection.close or channel.close.
    if (this.state !== "open" || this.conn.state !== "open") return;
    for (const m of this.confirms.drain()) this.send(m);
  }

  markConfirmsDirty(): void {
    this.conn.dirtyChannels.add(this);
    this.conn.requestFlush();
  }

  /**
   * Runs `reply` once durable definitions changed by this command are saved (so a
   * declare-ok means the declaration survives a crash); at once when nothing is pending.
   * With a version, it waits only until that version is saved.
   */
  afterDefinitionsSaved(reply: () => void, version?: number): void | Promise<void> {
    const saved = this.conn.broker.definitionsSaved(version);
    if (!saved) {
      reply();
      return;
    }
    // The channel or its connection may close while the save is pending; the reply
    // then has nowhere to go (nothing may follow connection.close but its close-ok).
    const stillOpen = () =>
      this.state === "open" &&
      this.conn.state === "open" &&
      this.conn.channels.get(this.id) === this;
    return saved.then(
      () => {
        if (stillOpen()) reply();
      },
      (e: Error) => {
        // A disk that refuses the write (ENOSPC, EIO) is the environment, not a bug:
        // 506 RESOURCE_ERROR, as for any resource the broker lacks.
        const environmental = (e as NodeJS.ErrnoException).code !== undefined;
        throw new AmqpError(
          environmental ? ReplyCode.RESOURCE_ERROR : ReplyCode.INTERNAL_ERROR,
          `${environmental ? "RESOURCE_ERROR" : "INTERNAL_ERROR"} - could not store definitions: ${e.message}`,
          0,
          0,
          "connection",
        );
      },
    );
  }

  /** A publish is settled: acked, or nacked when the store could not make it durable. */
  settleConfirm(seq: number, err: Error | undefined): void {
    if (this.state !== "open" || this.conn.state !== "open") return;
    if (err) this.confirms.nack(seq);
    else this.confirms.ack(seq);
    this.markConfirmsDirty();
  }

  // --- end -----------------------------------------------------------------

  /**
   * Releases everything: consumers are removed from their queues and every
   * unacknowledged delivery goes back to its queue, marked redelivered (AMQP 0-9-1
   * §3.1.4.4 and seed 004, "Connection drop").
   */
  shutdown(): void {
    if (!this.released) {
      this.released = true;
      this.conn.broker.channelClosed(this.conn.user!.name);
    }
    const now = this.now;
    for (const c of this.consumers.values()) c.queue.channelClosing?.(c);
    for (const c of this.consumers.values()) c.queue.removeConsumer(c, now);
    this.consumers.clear();
    const deliveries = [...this.unacked.values()];
    this.unacked.clear();
    this.consumerUnacked = 0;
    requeueAll(
      this.conn.broker.chores,
      `channel ${this.id} of connection ${this.conn.name}`,
      deliveries,
      now,
    );
    if (this.replyKey) this.conn.broker.replyConsumers.delete(this.replyKey);
    this.replyKey = undefined;
    this.txActions = [];
    this.txPendingTags.clear();
    this.backlog = [];
    if (this.state === "open") this.conn.broker.counters.channelsClosed++;
  }

  /**
   * The delivery acknowledgement timeout (RabbitMQ's consumer_timeout): a delivery
   * unacknowledged for longer closes the channel with 406, which requeues it.
   * Called from the connection's tick; the oldest delivery is checked.
   */
  tick(nowMs: number): void {
    if (this.state !== "open") return;
    const oldest = this.unacked.values().next();
    if (oldest.done) return;
    const d = oldest.value;
    const timeout =
      d.queue.settings.consumerTimeoutMs ?? this.conn.broker.settings.consumerTimeoutMs;
    if (timeout > 0 && nowMs - d.deliveredAtMs > timeout) {
      this.closeWithError(
        new AmqpError(
          ReplyCode.PRECONDITION_FAILED,
          `PRECONDITION_FAILED - delivery acknowledgement on channel ${this.id} timed out. ` +
            `Timeout value used: ${timeout} ms. This timeout value can be configured, see consumers doc guide to learn more`,
          0,
          0,
          "channel",
        ),
      );
    }
  }

  /** Builds the channel error for an unknown delivery tag (RabbitMQ's wording). */
  unknownTag(tag: number) {
    return channelError(ReplyCode.PRECONDITION_FAILED, `unknown delivery tag ${tag}`);
  }
}
