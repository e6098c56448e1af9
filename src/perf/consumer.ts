import type { ClientChannel, Delivery } from "./client-channel.js";
import type { RunMeter } from "./run-meter.js";
import { latencyUsOf } from "./send-time.js";

export interface ConsumerPlan {
  readonly queue: string;
  readonly autoAck: boolean;
  /** basic.qos prefetch count; 0 sends no basic.qos. */
  readonly prefetch: number;
  /** Manual ack: ack with multiple=true every N deliveries; 1 acks each one alone. */
  readonly multiAckEvery: number;
}

/** Consumes one queue, records each delivery's latency, and acks as the plan says. */
export class Consumer {
  private unacked = 0;

  constructor(
    private readonly channel: ClientChannel,
    private readonly plan: ConsumerPlan,
    private readonly meter: RunMeter,
  ) {}

  async start(): Promise<void> {
    if (this.plan.prefetch > 0) await this.channel.qos(this.plan.prefetch);
    await this.channel.consume(this.plan.queue, this.plan.autoAck, this.onDelivery);
  }

  private readonly onDelivery = (d: Delivery): void => {
    this.meter.delivered(latencyUsOf(d.body));
    if (this.plan.autoAck) return;
    if (this.plan.multiAckEvery <= 1) {
      this.channel.ack(d.deliveryTag, false);
      return;
    }
    if (++this.unacked >= this.plan.multiAckEvery) {
      this.channel.ack(d.deliveryTag, true);
      this.unacked = 0;
    }
  };
}
