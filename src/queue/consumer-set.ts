import type { Consumer } from "./consumer.js";
import { SingleActiveConsumer } from "./single-active-consumer.js";

/**
 * A classic queue's consumers, highest priority first (equal priorities in arrival
 * order), and which one gets the next message: round-robin within the highest
 * priority that can take one (RabbitMQ consumer priorities), or only the single
 * active consumer of an x-single-active-consumer queue.
 */
export class ConsumerSet {
  private list: Consumer[] = [];
  private readonly sac = new SingleActiveConsumer();
  private roundRobin = 0;

  /** `singleActive` reads the queue's setting (x-single-active-consumer) when it matters. */
  constructor(private readonly singleActive: () => boolean) {}

  get size(): number {
    return this.list.length;
  }

  get all(): readonly Consumer[] {
    return this.list;
  }

  /** The single active consumer, for single-active-consumer queues. */
  get active(): Consumer | undefined {
    return this.singleActive() ? this.sac.active : undefined;
  }

  add(consumer: Consumer): void {
    let at = this.list.length;
    while (at > 0 && this.list[at - 1]!.priority < consumer.priority) at--;
    this.list.splice(at, 0, consumer);
    this.sac.added(consumer, this.list);
  }

  /** Returns false when it was not one of them. */
  remove(consumer: Consumer): boolean {
    const at = this.list.indexOf(consumer);
    if (at < 0) return false;
    this.list.splice(at, 1);
    this.sac.removed(consumer, this.list);
    return true;
  }

  /** Empties the set, returning who was in it (the queue was deleted). */
  takeAll(): Consumer[] {
    const all = this.list;
    this.list = [];
    return all;
  }

  /**
   * A delivery of `consumer` was settled: returns whether the single active consumer
   * changed (it hands over once the old one has nothing outstanding).
   */
  settled(consumer: Consumer): boolean {
    return this.sac.settle(consumer, this.list);
  }

  hasExclusive(): boolean {
    return this.list.some((c) => c.options.exclusive);
  }

  /**
   * Round-robin among the consumers of the highest priority that can take a
   * message; lower priorities are served only while all higher ones are blocked.
   */
  pick(): Consumer | undefined {
    if (this.singleActive()) {
      const c = this.sac.active;
      return c?.belowPrefetch && c.sink.hasCredit(c) ? c : undefined;
    }
    const cs = this.list;
    let start = 0;
    while (start < cs.length) {
      const priority = cs[start]!.priority;
      let end = start + 1;
      while (end < cs.length && cs[end]!.priority === priority) end++;
      const size = end - start;
      for (let k = 0; k < size; k++) {
        const offset = (this.roundRobin + k) % size;
        const c = cs[start + offset]!;
        if (c.belowPrefetch && c.sink.hasCredit(c)) {
          this.roundRobin = offset + 1;
          return c;
        }
      }
      start = end;
    }
    return undefined;
  }
}
