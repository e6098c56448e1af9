import { encodeProperties } from "../protocol/content-properties.js";
import type { AmqpClient } from "./amqp-client.js";
import type { ClientChannel } from "./client-channel.js";
import { messagesDue, msUntilNextDue } from "./pacing.js";
import type { RunMeter } from "./run-meter.js";
import { writeSendTime } from "./send-time.js";
import type { Route } from "./topology.js";

export interface PublisherPlan {
  readonly routes: readonly Route[];
  readonly sizeBytes: number;
  readonly persistent: boolean;
  /** Most unconfirmed messages in flight; 0 = no confirms. */
  readonly confirmWindow: number;
  /** This publisher's rate; 0 = as fast as possible. */
  readonly ratePerS: number;
  /** This publisher's share of --count; 0 = no limit. */
  readonly count: number;
}

/** Messages written per event-loop turn, so confirms and deliveries get read in between. */
const BATCH_MESSAGES = 200;
/** Stop writing while this much is buffered for the socket; resume on drain. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** FrameWriter copies bodies smaller than 8 KiB into its buffer; larger ones it keeps by reference. */
const COPIED_BODY_LIMIT = 8192;

/**
 * Publishes as fast as the socket, the confirm window and the rate allow. Each body
 * starts with the send time (send-time.ts) for the consumer's latency figure. With
 * confirms, the window bounds the span of sequence numbers from the oldest unconfirmed
 * one, so the send time of every unconfirmed message has its own slot in a ring.
 */
export class Publisher {
  /** Resolves when --count messages are sent and confirmed (never without --count). */
  readonly done: Promise<void>;
  private sent = 0;
  private nextSeq = 1;
  private lowestUnsettled = 1;
  private readonly sentAt: Float64Array;
  private readonly properties: Buffer;
  private readonly template: Buffer;
  private routeIndex = 0;
  private startMs = 0;
  private stopped = false;
  private wakeScheduled = false;
  private resolveDone!: () => void;

  constructor(
    private readonly client: AmqpClient,
    private readonly channel: ClientChannel,
    private readonly plan: PublisherPlan,
    private readonly meter: RunMeter,
    private readonly clockMs: () => number,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.sentAt = new Float64Array(Math.max(1, plan.confirmWindow)).fill(Number.NaN);
    this.properties = encodeProperties({ deliveryMode: plan.persistent ? 2 : 1 });
    this.template = Buffer.alloc(plan.sizeBytes);
    channel.onConfirm = (tag, multiple, nack) => this.onConfirm(tag, multiple, nack);
    client.onBlockedChange = (blocked) => {
      if (!blocked) this.wake();
    };
  }

  start(): void {
    this.startMs = this.clockMs();
    this.wake();
  }

  stop(): void {
    this.stopped = true;
  }

  private wake = (): void => {
    if (this.wakeScheduled || this.stopped) return;
    this.wakeScheduled = true;
    setImmediate(this.step);
  };

  private readonly step = (): void => {
    this.wakeScheduled = false;
    if (this.stopped || !this.client.isOpen || this.client.blocked) return;
    if (this.client.bufferedBytes > HIGH_WATER_BYTES) {
      void this.client.whenDrained().then(this.wake);
      return;
    }
    const { ratePerS, confirmWindow, count } = this.plan;
    const elapsedMs = this.clockMs() - this.startMs;
    let n = messagesDue(ratePerS, elapsedMs, this.sent, BATCH_MESSAGES);
    if (confirmWindow > 0) n = Math.min(n, confirmWindow - (this.nextSeq - this.lowestUnsettled));
    if (count > 0) n = Math.min(n, count - this.sent);
    if (n <= 0) {
      if (count > 0 && this.sent >= count) this.checkDone();
      else if (confirmWindow > 0 && this.nextSeq - this.lowestUnsettled >= confirmWindow) {
        // The window is full: the next confirm wakes us.
      } else {
        setTimeout(this.wake, msUntilNextDue(ratePerS, elapsedMs, this.sent));
      }
      return;
    }
    try {
      for (let i = 0; i < n; i++) this.publishOne();
    } catch {
      // The channel was closed by the broker; its onError has told the run.
      this.stop();
      return;
    }
    this.sent += n;
    this.meter.published(n);
    this.wake();
  };

  private publishOne(): void {
    const route = this.plan.routes[this.routeIndex]!;
    this.routeIndex = (this.routeIndex + 1) % this.plan.routes.length;
    const body =
      this.plan.sizeBytes < COPIED_BODY_LIMIT ? this.template : Buffer.from(this.template);
    const now = writeSendTime(body);
    const seq = this.channel.publish(route.exchange, route.routingKey, this.properties, body);
    if (seq > 0) {
      this.sentAt[seq % this.sentAt.length] = now;
      this.nextSeq = seq + 1;
    }
  }

  private onConfirm(tag: number, multiple: boolean, nack: boolean): void {
    const now = this.clockMs();
    const settle = (seq: number) => {
      const slot = seq % this.sentAt.length;
      const at = this.sentAt[slot]!;
      if (Number.isNaN(at)) return;
      this.sentAt[slot] = Number.NaN;
      this.meter.confirmedOne((now - at) * 1000, nack);
    };
    if (multiple) for (let s = this.lowestUnsettled; s <= tag; s++) settle(s);
    else settle(tag);
    while (
      this.lowestUnsettled < this.nextSeq &&
      Number.isNaN(this.sentAt[this.lowestUnsettled % this.sentAt.length]!)
    ) {
      this.lowestUnsettled++;
    }
    if (this.plan.count > 0 && this.sent >= this.plan.count) this.checkDone();
    else this.wake();
  }

  private checkDone(): void {
    if (this.plan.confirmWindow > 0 && this.lowestUnsettled < this.nextSeq) return;
    void this.client.whenDrained().then(() => this.resolveDone());
  }
}
