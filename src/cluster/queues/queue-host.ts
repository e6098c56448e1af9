/**
 * The home's side of classic-queue forwarding (docs/CLUSTER.md, "Classic queues in a
 * cluster"): the queues that live on this node serve publishes, consumers and basic.gets
 * of the other nodes' clients. A consumer of another node is an ordinary consumer of the
 * queue whose sink is a HostedConsumer: it takes deliveries while it has the credit that
 * node granted, and sends each across the link. What it sent and was not settled is kept
 * per node, so that when the link to that node is lost everything it held goes back to
 * its queue, as a closed channel's deliveries do.
 */
import type { Message } from "../../message/message.js";
import { AmqpError } from "../../protocol/amqp-error.js";
import { summarizeProperties } from "../../protocol/content-properties.js";
import { fromTaggedJson, type TaggedJson } from "../../protocol/field-table-json.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { CancelReason, Consumer, ConsumerSink } from "../../queue/consumer.js";
import type { EnqueueOutcome } from "../../queue/enqueue-outcome.js";
import type { Queue, QueueDelivery } from "../../queue/queue-type.js";
import {
  decodeConsume,
  decodeGet,
  decodePublish,
  decodeRefs,
  encodeCountsAnswer,
  encodeFrame,
  encodeGetAnswer,
  encodePublishAnswer,
  encodePurgeAnswer,
  encodeResult,
  FrameOp,
  type QueueFrame,
  type QueueRef,
  type WireDelivery,
  type WireError,
} from "./queue-wire.js";

/** What the host needs of its node. */
export interface HostNode {
  /** A queue that lives on this node (not a stand-in), by name and id. */
  localQueue(ref: QueueRef): Queue | undefined;
  enqueue(queues: readonly Queue[], message: Message, nowMs: number): EnqueueOutcome;
  newMessageId(): number;
  clock(): number;
}

/** Sends one-way queue frames to a node; false when the link is down. */
export type FrameSender = (node: string, payload: Buffer) => boolean;

interface Outstanding {
  readonly queue: Queue;
  readonly delivery: QueueDelivery;
  readonly consumer: Consumer | undefined;
}

/** Everything this node holds for one other node's clients. */
class PeerSession {
  readonly consumers = new Map<number, HostedConsumer>();
  readonly outstanding = new Map<number, Outstanding>();
  /** A send failed: the link is going down; nothing more is sent until the loss is handled. */
  broken = false;

  constructor(
    readonly node: string,
    private readonly ids: { next: number },
  ) {}

  /**
   * Delivery ids run on across sessions (one counter for the host): a late settle from
   * an ended session names an id no later delivery has, so it can only miss.
   */
  takeId(): number {
    const id = this.ids.next;
    this.ids.next = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }
}

/** A consumer of another node, as its queue here sees it. */
class HostedConsumer implements ConsumerSink {
  consumer: Consumer | undefined;

  constructor(
    readonly id: number,
    readonly queue: Queue,
    private readonly session: PeerSession,
    public credit: number,
    private readonly host: QueueHost,
  ) {}

  hasCredit(_consumer: Consumer): boolean {
    return this.credit > 0 && !this.session.broken;
  }

  deliver(consumer: Consumer, delivery: QueueDelivery, queue: Queue): void {
    this.credit--;
    const id = this.session.takeId();
    if (!consumer.options.noAck) {
      this.session.outstanding.set(id, { queue, delivery, consumer });
    }
    this.host.send(this.session, {
      op: FrameOp.deliver,
      consumerId: this.id,
      ...wireDelivery(queue, delivery, id),
    });
  }

  cancelledByQueue(_consumer: Consumer, reason: CancelReason): void {
    this.session.consumers.delete(this.id);
    this.host.send(this.session, { op: FrameOp.cancelled, consumerId: this.id, reason });
  }
}

/** A delivery as it crosses: the properties as this queue delivers them (x-delivery-count). */
function wireDelivery(queue: Queue, delivery: QueueDelivery, deliveryId: number): WireDelivery {
  const m = delivery.message;
  return {
    deliveryId,
    redelivered: delivery.redelivered,
    deliveryCount: delivery.deliveryCount,
    exchange: m.exchange,
    routingKey: m.routingKey,
    properties: queue.deliveryProperties(delivery),
    body: m.body,
  };
}

function asWireError(e: unknown): WireError {
  if (e instanceof AmqpError) return { code: e.replyCode, text: e.replyText };
  return { code: ReplyCode.INTERNAL_ERROR, text: e instanceof Error ? e.message : String(e) };
}

function notFound(q: QueueRef): WireError {
  return { code: ReplyCode.NOT_FOUND, text: `no queue '${q.name}' in vhost '${q.vhost}'` };
}

export class QueueHost {
  private readonly sessions = new Map<string, PeerSession>();
  private readonly deliveryIds = { next: 1 };
  /** Why this node serves no other node's clients now (it is in the minority), if it does not. */
  private pausedReason: string | undefined;

  constructor(
    private readonly node: HostNode,
    private readonly sendFrame: FrameSender,
  ) {}

  private session(node: string): PeerSession {
    let s = this.sessions.get(node);
    if (!s) {
      s = new PeerSession(node, this.deliveryIds);
      this.sessions.set(node, s);
    }
    return s;
  }

  /** Sends a frame; a failed send marks the session broken and ends it on the next microtask. */
  send(session: PeerSession, frame: QueueFrame): void {
    if (session.broken) return;
    if (this.sendFrame(session.node, encodeFrame(frame))) return;
    session.broken = true;
    // Not now: this may run inside a queue's dispatch, which must not see its consumers go.
    queueMicrotask(() => this.lost(session.node));
  }

  // ------------------------------------------------------------ requests

  /** A message for some of this node's queues; answered once it is as safe as they promise. */
  publish(_from: string, payload: Buffer): Promise<Buffer> {
    const { queues: refs, message: m } = decodePublish(payload);
    if (this.pausedReason !== undefined) {
      const detail = `the home of queue '${refs[0]?.name}' is paused: ${this.pausedReason}`;
      return Promise.resolve(
        encodePublishAnswer({ accepted: false, reason: "unavailable", detail }),
      );
    }
    const queues: Queue[] = [];
    for (const ref of refs) {
      const q = this.node.localQueue(ref);
      if (q) queues.push(q);
    }
    // Deleted meanwhile: as a publish routed to a queue being deleted, it is dropped.
    if (queues.length === 0) return Promise.resolve(encodePublishAnswer({ accepted: true }));
    const properties = Buffer.from(m.properties);
    const summary = summarizeProperties(properties);
    const message: Message = {
      id: this.node.newMessageId(),
      exchange: m.exchange,
      routingKey: m.routingKey,
      properties,
      summary,
      body: Buffer.from(m.body),
      persistent: summary.deliveryMode === 2,
      arrivedAtMs: m.arrivedAtMs,
    };
    const outcome = this.node.enqueue(queues, message, this.node.clock());
    return new Promise((resolve) =>
      outcome.whenSettled((r) =>
        resolve(
          encodePublishAnswer(
            r.accepted ? r : { accepted: false, reason: r.reason, detail: r.detail },
          ),
        ),
      ),
    );
  }

  /** A consumer of another node's client: refused as basic.consume would be here. */
  consume(from: string, payload: Buffer): Promise<Buffer> {
    const c = decodeConsume(payload);
    if (this.pausedReason !== undefined) return Promise.resolve(encodeResult(this.paused(c.queue)));
    const queue = this.node.localQueue(c.queue);
    if (!queue) return Promise.resolve(encodeResult(notFound(c.queue)));
    if ((c.exclusive && queue.consumerCount > 0) || queue.hasExclusiveConsumer()) {
      return Promise.resolve(
        encodeResult({
          code: ReplyCode.ACCESS_REFUSED,
          text: `queue '${queue.name}' in vhost '${c.queue.vhost}' in exclusive use`,
        }),
      );
    }
    const session = this.session(from);
    const hosted = new HostedConsumer(c.consumerId, queue, session, c.credit, this);
    session.consumers.set(c.consumerId, hosted);
    try {
      const args = JSON.parse(c.argumentsJson) as Record<string, TaggedJson>;
      hosted.consumer = queue.addConsumer(
        {
          tag: c.tag,
          noAck: c.noAck,
          exclusive: c.exclusive,
          priority: c.priority,
          prefetchCount: c.prefetchCount,
          arguments: fromTaggedJson(args),
        },
        hosted,
        this.node.clock(),
      );
    } catch (e) {
      session.consumers.delete(c.consumerId);
      return Promise.resolve(encodeResult(asWireError(e)));
    }
    return Promise.resolve(encodeResult(undefined));
  }

  get(from: string, payload: Buffer): Promise<Buffer> {
    const { queue: ref, noAck } = decodeGet(payload);
    if (this.pausedReason !== undefined) {
      return Promise.resolve(encodeGetAnswer({ kind: "error", error: this.paused(ref) }));
    }
    const queue = this.node.localQueue(ref);
    if (!queue) return Promise.resolve(encodeGetAnswer({ kind: "error", error: notFound(ref) }));
    const delivery = queue.fetch(noAck, this.node.clock());
    if (!delivery) {
      return Promise.resolve(encodeGetAnswer({ kind: "empty", messageCount: queue.messageCount }));
    }
    const session = this.session(from);
    const id = session.takeId();
    if (!noAck) session.outstanding.set(id, { queue, delivery, consumer: undefined });
    return Promise.resolve(
      encodeGetAnswer({
        kind: "delivery",
        messageCount: queue.messageCount,
        delivery: wireDelivery(queue, delivery, id),
      }),
    );
  }

  /** The figures of the queues asked for (null for one this node does not have). */
  counts(_from: string, payload: Buffer): Promise<Buffer> {
    const stats = decodeRefs(payload).map((ref) => this.node.localQueue(ref)?.stats() ?? null);
    return Promise.resolve(encodeCountsAnswer(stats));
  }

  /** A declaration on another node renews the lease as one here would (RabbitMQ). */
  declare(from: string, payload: Buffer): Promise<Buffer> {
    const now = this.node.clock();
    for (const ref of decodeRefs(payload)) this.node.localQueue(ref)?.declared(now);
    return this.counts(from, payload);
  }

  purge(_from: string, payload: Buffer): Promise<Buffer> {
    const [ref] = decodeRefs(payload);
    if (ref && this.pausedReason !== undefined) {
      return Promise.resolve(encodePurgeAnswer(this.paused(ref)));
    }
    const queue = ref ? this.node.localQueue(ref) : undefined;
    if (!queue || !ref) return Promise.resolve(encodePurgeAnswer(notFound(ref!)));
    return Promise.resolve(encodePurgeAnswer({ count: queue.purge() }));
  }

  // ------------------------------------------------------------ frames

  /** Credit, settles and cancels from the node of the consumers. */
  onFrame(from: string, f: QueueFrame): void {
    const session = this.sessions.get(from);
    if (!session) return;
    const now = this.node.clock();
    if (f.op === FrameOp.credit) {
      const hosted = session.consumers.get(f.consumerId);
      if (!hosted) return;
      hosted.credit += f.credit;
      hosted.queue.dispatch(now);
    } else if (f.op === FrameOp.settle) {
      for (const id of f.deliveryIds) {
        const o = session.outstanding.get(id);
        if (!o) continue;
        session.outstanding.delete(id);
        if (f.outcome === "ack") o.queue.ack(o.delivery, o.consumer, now);
        else if (f.outcome === "requeue") o.queue.requeue(o.delivery, o.consumer, now);
        else o.queue.reject(o.delivery, o.consumer, now);
      }
    } else if (f.op === FrameOp.cancel) {
      const hosted = session.consumers.get(f.consumerId);
      if (!hosted) return;
      session.consumers.delete(f.consumerId);
      if (hosted.consumer) hosted.queue.removeConsumer(hosted.consumer, now);
    }
  }

  /**
   * This node paused (it cannot see a majority of the cluster: pause_minority): like its own
   * clients, the other nodes' consumers of its queues end (they hear basic.cancel), what they
   * held goes back, and nothing more is served until `resume`. So no two sides of a
   * partition ever serve one queue's messages.
   */
  pause(reason: string): void {
    this.pausedReason = reason;
    const sessions = [...this.sessions.values()];
    for (const session of sessions) {
      for (const hosted of session.consumers.values()) {
        this.send(session, { op: FrameOp.cancelled, consumerId: hosted.id, reason: "home-down" });
      }
      // No more deliveries to any of them: what one session gives back must not go out to
      // another that is about to end too.
      session.broken = true;
    }
    for (const session of sessions) this.lost(session.node);
  }

  resume(): void {
    this.pausedReason = undefined;
  }

  private paused(q: QueueRef): WireError {
    return {
      code: ReplyCode.NOT_FOUND,
      text: `home node of queue '${q.name}' in vhost '${q.vhost}' is down or inaccessible: ${this.pausedReason}`,
    };
  }

  /**
   * The link to a node was lost (either direction): its consumers end, and what they and
   * its basic.gets held goes back to the queues, marked redelivered.
   */
  lost(node: string): void {
    const session = this.sessions.get(node);
    if (!session) return;
    this.sessions.delete(node);
    session.broken = true;
    const now = this.node.clock();
    for (const hosted of session.consumers.values()) {
      if (hosted.consumer) hosted.queue.removeConsumer(hosted.consumer, now);
    }
    session.consumers.clear();
    for (const o of session.outstanding.values()) o.queue.requeue(o.delivery, o.consumer, now);
    session.outstanding.clear();
  }

  /** Figures for status: consumers of other nodes, and their deliveries not yet settled. */
  stats(): { remoteConsumers: number; outstanding: number } {
    let remoteConsumers = 0;
    let outstanding = 0;
    for (const s of this.sessions.values()) {
      remoteConsumers += s.consumers.size;
      outstanding += s.outstanding.size;
    }
    return { remoteConsumers, outstanding };
  }
}
