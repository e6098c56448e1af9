import type { FieldTable } from "../protocol/field-table.js";
import type { Queue, QueueDelivery } from "./queue-type.js";

/**
 * Why a consumer stopped without its client asking. home-down: the queue lives on
 * another node of the cluster, and the link to that node was lost (cluster/queues/).
 */
export type CancelReason = "queue-deleted" | "single-active-handover" | "home-down";

/**
 * The side of a channel that a queue sees: where its consumers' deliveries go.
 * The queue decides which consumer gets the next message; the channel decides
 * whether that consumer can take one (prefetch, flow, socket backpressure).
 */
export interface ConsumerSink {
  hasCredit(consumer: Consumer): boolean;
  /** `consumer.queue` hands `delivery` over; the channel sends it and settles it later. */
  deliver(consumer: Consumer, delivery: QueueDelivery, queue: Queue): void;
  /** The queue ended the consumer (deleted): the channel sends basic.cancel to its client. */
  cancelledByQueue(consumer: Consumer, reason: CancelReason): void;
}

export interface ConsumerOptions {
  readonly tag: string;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** x-priority: higher-priority consumers are served first while they have credit. */
  readonly priority: number;
  /** Per-consumer prefetch (basic.qos global=false at consume time); 0 means unlimited. */
  readonly prefetchCount: number;
  readonly arguments: FieldTable;
}

export class Consumer {
  /** Messages delivered to this consumer and not yet settled. */
  unacked = 0;
  readonly createdAtMs: number;

  constructor(
    readonly options: ConsumerOptions,
    readonly queue: Queue,
    readonly sink: ConsumerSink,
    nowMs: number,
  ) {
    this.createdAtMs = nowMs;
  }

  get tag(): string {
    return this.options.tag;
  }

  get priority(): number {
    return this.options.priority;
  }

  /** False for the waiting consumers of a single-active-consumer queue. */
  get active(): boolean {
    const a = this.queue.activeConsumer;
    return a === undefined || a === this;
  }

  /** Whether the per-consumer prefetch leaves room for one more delivery. */
  get belowPrefetch(): boolean {
    return (
      this.options.noAck ||
      this.options.prefetchCount === 0 ||
      this.unacked < this.options.prefetchCount
    );
  }
}
