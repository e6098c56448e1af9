import type { Method } from "../protocol/generated/methods.js";
import { Deque } from "../queue/deque.js";

/**
 * Publisher confirms of one channel (RabbitMQ confirm.select). Publishes get
 * sequence numbers; the store or queue resolves each as ack or nack, possibly
 * later (after fsync). At flush time the resolved ones go out coalesced: nacks
 * one by one, then acks as a single `multiple` ack when no earlier publish is
 * still outstanding, which is the common case and costs one frame per batch.
 */
export class ConfirmTracker {
  private nextSeq = 1;
  /** Unresolved sequence numbers in publish order (resolved ones are skipped lazily). */
  private readonly order = new Deque<number>();
  private readonly resolvedEarly = new Set<number>();
  private acks: number[] = [];
  private nacks: number[] = [];

  /** Number of publishes not yet confirmed or nacked. */
  get outstanding(): number {
    return this.order.length - this.resolvedEarly.size;
  }

  /** Assigns the next publish sequence number. */
  publish(): number {
    const seq = this.nextSeq++;
    this.order.push(seq);
    return seq;
  }

  ack(seq: number): void {
    this.settle(seq);
    this.acks.push(seq);
  }

  nack(seq: number): void {
    this.settle(seq);
    this.nacks.push(seq);
  }

  get hasOutput(): boolean {
    return this.acks.length > 0 || this.nacks.length > 0;
  }

  /** The basic.ack / basic.nack methods to send now. */
  drain(): Method[] {
    const out: Method[] = [];
    if (this.nacks.length > 0) {
      this.nacks.sort((a, b) => a - b);
      for (const tag of this.nacks) {
        out.push({ name: "basic.nack", deliveryTag: tag, multiple: false, requeue: false });
      }
      this.nacks = [];
    }
    if (this.acks.length > 0) {
      this.acks.sort((a, b) => a - b);
      const max = this.acks[this.acks.length - 1]!;
      const lowest = this.lowestOutstanding();
      if (this.acks.length > 1 && (lowest === undefined || lowest > max)) {
        out.push({ name: "basic.ack", deliveryTag: max, multiple: true });
      } else {
        for (const tag of this.acks)
          out.push({ name: "basic.ack", deliveryTag: tag, multiple: false });
      }
      this.acks = [];
    }
    return out;
  }

  private settle(seq: number): void {
    if (this.order.peek() === seq) {
      this.order.shift();
      this.skipResolved();
    } else {
      this.resolvedEarly.add(seq);
    }
  }

  private skipResolved(): void {
    for (
      let head = this.order.peek();
      head !== undefined && this.resolvedEarly.has(head);
      head = this.order.peek()
    ) {
      this.resolvedEarly.delete(head);
      this.order.shift();
    }
  }

  private lowestOutstanding(): number | undefined {
    this.skipResolved();
    return this.order.peek();
  }
}
