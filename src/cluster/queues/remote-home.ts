/**
 * One other node as the home of queues this node reaches through the cluster link (the
 * consumer's side of classic-queue forwarding, docs/CLUSTER.md "Classic queues in a
 * cluster"). It forwards publishes, keeps this node's consumers of those queues fed by
 * credit, batches their settles, and when the link to the home is lost it ends them all:
 * the home requeues what they held, and their clients get basic.cancel.
 *
 * Credit: the home may send a consumer as many deliveries as it was granted. A consumer
 * with a prefetch limit is granted what its limit leaves (limit - unacked - buffered -
 * in flight), so no more than its prefetch ever sits on this node; one without a limit
 * (or no-ack) gets a window of WINDOW, topped up as its deliveries go out. Deliveries the
 * channel cannot take yet (a global prefetch, a blocked socket) wait in the consumer's
 * buffer until the channel's next dispatch.
 */
import type { Message } from "../../message/message.js";
import { channelError } from "../../protocol/amqp-error.js";
import { summarizeProperties } from "../../protocol/content-properties.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Consumer } from "../../queue/consumer.js";
import {
  type EnqueueOutcome,
  PendingOutcome,
  refused,
  refusedResult,
} from "../../queue/enqueue-outcome.js";
import { QueuePressure } from "../../queue/queue-pressure.js";
import type { Queue, QueueDelivery, RemoteHome } from "../../queue/queue-type.js";
import {
  decodePublishAnswer,
  encodeFrame,
  encodePublish,
  FrameOp,
  type QueueFrame,
  type QueueRef,
  QueueRequest,
  type SettleOutcome,
  type WireDelivery,
} from "./queue-wire.js";

/** Deliveries a consumer without a prefetch limit may have on its way or waiting here. */
export const WINDOW = 200;
/** How long a forwarded publish waits for its home's answer before it is nacked. */
export const PUBLISH_TIMEOUT_MS = 15_000;

/** What forwarding needs of the cluster link to the home. */
export interface HomeLink {
  isConnected(node: string): boolean;
  /** Sends a one-way queue frame; false when it could not be queued (the link is down). */
  sendFrame(node: string, payload: Buffer): boolean;
  request(node: string, kind: number, payload: Buffer, timeoutMs?: number): Promise<Buffer>;
}

/** A delivery that came from the home: what the channel settles later. */
export interface RemoteDelivery extends QueueDelivery {
  readonly deliveryId: number;
  /** The properties as the home delivered them. */
  readonly properties: Buffer;
  /** The link session it came in: settles of an older one are not sent (the home requeued it). */
  readonly epoch: number;
}

/** A stand-in for a queue of this home (remote-queue.ts). */
export interface RemoteQueueLike extends Queue {
  readonly ref: QueueRef;
  /** The home's figures arrived (a counts answer; null: the home has no such queue). */
  refreshed(stats: unknown): void;
  /** The consumer ended without this queue's doing (the home, or the link). */
  forget(consumer: Consumer): void;
}

/** This node's side of one consumer of a queue on the home. */
export interface RemoteConsumer {
  readonly id: number;
  readonly consumer: Consumer;
  readonly queue: Queue;
  /** Deliveries the home may still send (granted and not yet arrived). */
  inFlight: number;
  /** Arrived, waiting for the channel to take them. */
  readonly buffer: RemoteDelivery[];
}

export function homeDownError(home: string, q: QueueRef, durable: boolean) {
  return channelError(
    ReplyCode.NOT_FOUND,
    `home node '${home}' of ${durable ? "durable " : ""}queue '${q.name}' in vhost '${q.vhost}' is down or inaccessible`,
  );
}

export class RemoteHomeNode implements RemoteHome {
  /** Bumped when the link is lost: what came before belongs to a session the home ended. */
  epoch = 1;
  private readonly consumers = new Map<number, RemoteConsumer>();
  private readonly settles: Record<SettleOutcome, number[]> = { ack: [], requeue: [], reject: [] };
  private readonly creditDue = new Set<RemoteConsumer>();
  private flushQueued = false;
  /** Queues of this home that have a stand-in here (for the counts refresh). */
  readonly queues = new Set<RemoteQueueLike>();

  /** Publishes sent to the home and not yet answered: their count and body bytes. */
  private readonly inFlight = { count: 0, bytes: 0 };
  /**
   * Publisher flow control for the home: forwarded publishes waiting for their answers
   * weigh like a queue's backlog, so a publisher outrunning the home (or the link) is held
   * as one outrunning a local queue's consumers (connection/publisher-flow.ts).
   */
  readonly pressure: QueuePressure;

  constructor(
    readonly node: string,
    private readonly link: HomeLink,
    private readonly newConsumerId: () => number,
    private readonly clock: () => number,
  ) {
    const inFlight = this.inFlight;
    this.pressure = new QueuePressure({
      deleted: false,
      consumerCount: 1,
      get messageCount() {
        return inFlight.count;
      },
      get readyBytes() {
        return inFlight.bytes;
      },
      lazy: false,
    });
  }

  get reachable(): boolean {
    return this.link.isConnected(this.node);
  }

  /**
   * A request to the home. The turn's settles go first: a client's nack then basic.get
   * must find the message back at the head, as on one node.
   */
  request(kind: number, payload: Buffer, timeoutMs?: number): Promise<Buffer> {
    if (this.flushQueued) this.flush();
    return this.link.request(this.node, kind, payload, timeoutMs);
  }

  // ------------------------------------------------------------ publishing

  /**
   * Forwards one message for several of this home's queues. Safe once the home answers
   * (after its own fsync for a persistent message on a durable queue); refused at once
   * when the home is out of reach, or when the answer does not come.
   */
  enqueueAll(queues: readonly Queue[], message: Message, _nowMs: number): EnqueueOutcome {
    const refs = queues.map((q) => (q as RemoteQueueLike).ref);
    if (!this.reachable) {
      return refused(
        "unavailable",
        `home node '${this.node}' of queue '${refs[0]!.name}' is down or inaccessible`,
      );
    }
    const outcome = new PendingOutcome();
    const payload = encodePublish(refs, message);
    const bytes = message.body.byteLength;
    this.inFlight.count++;
    this.inFlight.bytes += bytes;
    const answered = () => {
      this.inFlight.count--;
      this.inFlight.bytes -= bytes;
      const now = this.clock();
      this.pressure.delivered(now);
      this.pressure.settle(now);
    };
    this.request(QueueRequest.publish, payload, PUBLISH_TIMEOUT_MS).then(
      (answer) => {
        answered();
        const a = decodePublishAnswer(answer);
        outcome.settle(
          a.accepted
            ? { accepted: true }
            : refusedResult(
                a.reason === "reject-publish" || a.reason === "store-failed"
                  ? a.reason
                  : "unavailable",
                a.detail,
              ),
        );
      },
      (e: Error) => {
        answered();
        outcome.settle(refusedResult("unavailable", `home node '${this.node}': ${e.message}`));
      },
    );
    return outcome;
  }

  // ------------------------------------------------------------ consumers

  /** Registers a consumer before its consume request goes out (deliveries may precede the answer). */
  addConsumer(consumer: Consumer, queue: Queue): RemoteConsumer {
    const rc: RemoteConsumer = {
      id: this.newConsumerId(),
      consumer,
      queue,
      inFlight: 0,
      buffer: [],
    };
    this.consumers.set(rc.id, rc);
    rc.inFlight = this.wanted(rc);
    return rc;
  }

  /** The consumer is gone here: the home stops it; what was buffered goes back. */
  removeConsumer(rc: RemoteConsumer): void {
    if (!this.consumers.delete(rc.id)) return;
    this.creditDue.delete(rc);
    for (const d of rc.buffer.splice(0)) this.settle(d, "requeue");
    this.flush();
    this.link.sendFrame(this.node, encodeFrame({ op: FrameOp.cancel, consumerId: rc.id }));
  }

  /**
   * The home refused the consume, ended the consumer, or is out of reach: the client hears
   * basic.cancel, and what waited here goes back (not sent after a lost link: the home
   * requeues everything of the old session itself).
   */
  private ended(rc: RemoteConsumer, reason: "queue-deleted" | "home-down"): void {
    if (!this.consumers.delete(rc.id)) return;
    this.creditDue.delete(rc);
    for (const d of rc.buffer.splice(0)) this.settle(d, "requeue");
    (rc.queue as RemoteQueueLike).forget(rc.consumer);
    rc.consumer.sink.cancelledByQueue(rc.consumer, reason);
  }

  refusedConsume(rc: RemoteConsumer): void {
    this.ended(rc, "queue-deleted");
  }

  /** Hands buffered deliveries to the channel while it can take them, then tops up credit. */
  drain(rc: RemoteConsumer): void {
    const c = rc.consumer;
    while (rc.buffer.length > 0 && c.sink.hasCredit(c) && c.belowPrefetch) {
      this.handOver(rc, rc.buffer.shift()!);
    }
    this.topUp(rc);
  }

  private handOver(rc: RemoteConsumer, d: RemoteDelivery): void {
    const c = rc.consumer;
    if (!c.options.noAck) c.unacked++;
    c.sink.deliver(c, d, rc.queue);
  }

  /** How much credit the home should hold for this consumer now. */
  private wanted(rc: RemoteConsumer): number {
    const c = rc.consumer;
    const limit =
      c.options.noAck || c.options.prefetchCount === 0 ? WINDOW : c.options.prefetchCount;
    const held = (c.options.noAck ? 0 : c.unacked) + rc.buffer.length;
    return Math.max(0, limit - held);
  }

  /** Grants more credit when a good part of the wanted amount is missing (batched per turn). */
  topUp(rc: RemoteConsumer): void {
    if (!this.consumers.has(rc.id)) return;
    const wanted = this.wanted(rc);
    const missing = wanted - rc.inFlight;
    // Half the wanted amount at a time, or whatever is missing once nothing is on its way.
    if (missing <= 0 || (rc.inFlight > 0 && missing * 2 < wanted)) return;
    this.creditDue.add(rc);
    this.scheduleFlush();
  }

  /** A settle of a delivery from this home, sent with the turn's others. */
  settle(d: RemoteDelivery, outcome: SettleOutcome): void {
    if (d.epoch !== this.epoch) return; // the home requeued it when the link was lost
    this.settles[outcome].push(d.deliveryId);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** Settles first, then credit: the home frees prefetch room before it hears of more. */
  flush(): void {
    this.flushQueued = false;
    for (const outcome of ["ack", "requeue", "reject"] as const) {
      const ids = this.settles[outcome];
      if (ids.length === 0) continue;
      this.settles[outcome] = [];
      this.link.sendFrame(
        this.node,
        encodeFrame({ op: FrameOp.settle, outcome, deliveryIds: ids }),
      );
    }
    for (const rc of this.creditDue) {
      const add = this.wanted(rc) - rc.inFlight;
      if (add <= 0 || !this.consumers.has(rc.id)) continue;
      rc.inFlight += add;
      this.link.sendFrame(
        this.node,
        encodeFrame({ op: FrameOp.credit, consumerId: rc.id, credit: add }),
      );
    }
    this.creditDue.clear();
  }

  // ------------------------------------------------------------ from the home

  onFrame(f: QueueFrame): void {
    if (f.op === FrameOp.deliver) {
      const rc = this.consumers.get(f.consumerId);
      if (!rc) {
        // Sent before the home heard this consumer was cancelled: it never reached a client,
        // so it goes back (a no-ack delivery was settled at the home when it was sent).
        this.settles.requeue.push(f.deliveryId);
        this.scheduleFlush();
        return;
      }
      rc.inFlight = Math.max(0, rc.inFlight - 1);
      const d = this.delivery(f);
      const c = rc.consumer;
      if (rc.buffer.length === 0 && c.sink.hasCredit(c) && c.belowPrefetch) this.handOver(rc, d);
      else rc.buffer.push(d);
      this.topUp(rc);
    } else if (f.op === FrameOp.cancelled) {
      const rc = this.consumers.get(f.consumerId);
      if (rc) this.ended(rc, "queue-deleted");
    }
  }

  /** A delivery frame (or basic.get answer) as the channel's delivery. */
  delivery(d: WireDelivery): RemoteDelivery {
    const properties = Buffer.from(d.properties);
    const summary = summarizeProperties(properties);
    const message: Message = {
      id: 0,
      exchange: d.exchange,
      routingKey: d.routingKey,
      properties,
      summary,
      body: Buffer.from(d.body),
      persistent: summary.deliveryMode === 2,
      arrivedAtMs: 0,
    };
    return {
      message,
      redelivered: d.redelivered,
      deliveryCount: d.deliveryCount,
      deliveryId: d.deliveryId,
      properties,
      epoch: this.epoch,
    };
  }

  /**
   * The link to the home was lost (either direction): every consumer of its queues ends
   * here (basic.cancel to its client), pending settles are dropped (the home requeues
   * what it had sent when it notices the same loss), and later deliveries belong to
   * a new session.
   */
  lost(): void {
    this.epoch++;
    this.settles.ack = [];
    this.settles.requeue = [];
    this.settles.reject = [];
    for (const rc of [...this.consumers.values()]) this.ended(rc, "home-down");
  }
}
