import type { Consumer } from "./consumer.js";

/**
 * Which consumer of an x-single-active-consumer queue receives messages. The first
 * consumer becomes active; when it goes, the next in line (highest priority, then
 * earliest) takes over. A higher-priority consumer that arrives later takes over
 * only once the active one has no unacknowledged messages, so two consumers never
 * hold messages of the queue at once (RabbitMQ's rule).
 */
export class SingleActiveConsumer {
  active: Consumer | undefined;

  /** `all` is the queue's consumers ordered by priority, then arrival. */
  added(consumer: Consumer, all: readonly Consumer[]): void {
    if (!this.active) this.active = consumer;
    else this.maybeHandOver(all);
  }

  removed(consumer: Consumer, all: readonly Consumer[]): void {
    if (consumer === this.active) this.active = all[0];
  }

  /** A delivery of `consumer` was settled; returns whether the active consumer changed. */
  settle(consumer: Consumer, all: readonly Consumer[]): boolean {
    return consumer === this.active && this.maybeHandOver(all);
  }

  private maybeHandOver(all: readonly Consumer[]): boolean {
    const best = all[0];
    const current = this.active;
    if (
      !best ||
      !current ||
      best === current ||
      best.priority <= current.priority ||
      current.unacked > 0
    ) {
      return false;
    }
    this.active = best;
    return true;
  }
}
