import type { PressureWatcher, QueuePressure } from "../queue/queue-pressure.js";

/**
 * How long a connection still shows `flow` after it was last held: rabbit_reader
 * reports `flow` while credit flow blocks it or did within the last 5 s, so a
 * connection held for milliseconds at a time does not flicker between states.
 */
export const FLOW_VISIBLE_MS = 5_000;

/** What the connection provides to its flow control. */
export interface PublisherFlowHooks {
  /**
   * Whether this connection consumes from the queue. Such a queue never holds it:
   * the acks that let the queue drain arrive on this very socket, so not reading it
   * would stall the queue it waits for. (RabbitMQ's blocked reader stops reading acks
   * too, but its queues grant credit as they take messages in, whatever their
   * consumers do; Warren's queues let go as their consumers take messages out.)
   */
  consumesFrom(pressure: QueuePressure): boolean;
  /** The last queue let go: reading may resume. `heldMs` is how long it was held. */
  released(nowMs: number, heldMs: number): void;
}

/**
 * Publisher flow control for one connection, as RabbitMQ's credit flow does it for
 * its reader: while a queue this connection published to is falling behind
 * (QueuePressure), the runtime stops reading its socket, so the publisher waits on
 * TCP and the broker's time goes to the consumers. The connection goes on once every
 * queue that held it let go: its consumers took enough, stopped taking, or went
 * away, or the queue was deleted. The queue says so when it happens; review() (the
 * tick) catches what the queue does not announce (a delete, a stall). Pure: the
 * connection does the pausing, time comes in as `nowMs`.
 */
export class PublisherFlow implements PressureWatcher {
  /** Since when reading is held, while it is. */
  heldSinceMs: number | undefined;
  private lastHeldMs = Number.NEGATIVE_INFINITY;
  private readonly holders = new Set<QueuePressure>();
  /** Queues found to be consumed by this connection; asked again after each review. */
  private readonly exempt = new Set<QueuePressure>();

  constructor(private readonly hooks: PublisherFlowHooks) {}

  get held(): boolean {
    return this.heldSinceMs !== undefined;
  }

  /** How many queues hold the connection now. */
  get holderCount(): number {
    return this.holders.size;
  }

  /** A publish reached a queue. True when that put the connection in flow just now. */
  published(pressure: QueuePressure, nowMs: number): boolean {
    if (!pressure.holdsPublisher(nowMs) || this.holders.has(pressure)) return false;
    if (this.exempt.has(pressure)) return false;
    if (this.hooks.consumesFrom(pressure)) {
      this.exempt.add(pressure);
      return false;
    }
    this.holders.add(pressure);
    pressure.watch(this);
    if (this.heldSinceMs !== undefined) return false;
    this.heldSinceMs = nowMs;
    return true;
  }

  pressureReleased(pressure: QueuePressure, nowMs: number): void {
    this.holders.delete(pressure);
    if (this.holders.size === 0) this.release(nowMs);
  }

  /** Lets go of the queues that no longer hold the connection (called by the tick). */
  review(nowMs: number): void {
    this.exempt.clear();
    if (this.heldSinceMs === undefined) return;
    for (const p of this.holders) {
      if (!p.releases(nowMs)) continue;
      this.holders.delete(p);
      p.unwatch(this);
    }
    if (this.holders.size === 0) this.release(nowMs);
  }

  /** RabbitMQ's connection state as far as flow goes. */
  state(nowMs: number): "flow" | "running" {
    return this.held || nowMs - this.lastHeldMs < FLOW_VISIBLE_MS ? "flow" : "running";
  }

  /** The connection is gone: the queues stop telling it anything. */
  dispose(): void {
    for (const p of this.holders) p.unwatch(this);
    this.holders.clear();
    this.heldSinceMs = undefined;
  }

  private release(nowMs: number): void {
    const since = this.heldSinceMs;
    if (since === undefined) return;
    this.heldSinceMs = undefined;
    this.lastHeldMs = nowMs;
    this.hooks.released(nowMs, nowMs - since);
  }
}
