/**
 * The invariants of classic-queue forwarding in the simulator (classic-queue-sim.ts), kept
 * as a ledger of what every client and every home did:
 *
 *   exclusive delivery  a message is held unacked by at most one holder (a consumer or a
 *                       basic.get) at a time; a holding ends when its client settles it, or
 *                       when the link between the holder's node and the queue's home is
 *                       lost, or either node stops, or the home pauses (the home requeues
 *                       it then);
 *   prefetch            a consumer never holds more than its prefetch, on its node or as
 *                       the home counts it;
 *   single settlement   the home settles (ack, requeue, reject) only a delivery it has out;
 *   cancelled is final  no delivery reaches a consumer after its basic.cancel;
 *   at least once       after the cluster heals and consumers drain every queue, every
 *                       confirmed message was acked or rejected at its home, unless its
 *                       queue was deleted (a transient queue of a restarted home).
 *
 * The home's side is observed on the real queue (instrumentHomeQueue): its deliveries, gets
 * and settles, so "acked" means the home acked it, not that a client said so.
 */
import type { QueueEntry } from "../../src/message/message.js";
import type { Consumer } from "../../src/queue/consumer.js";
import type { Queue } from "../../src/queue/queue-type.js";
import type { Violation } from "./invariant-checker.js";

/** Who holds a delivery: a consumer or a basic.get, on `node`, of a queue homed on `home`. */
export interface Holder {
  readonly id: string;
  readonly node: string;
  readonly home: string;
}

interface Confirmed {
  readonly queue: string;
  readonly storeId: number;
}

export class QueueLedger {
  readonly violations: Violation[] = [];
  private readonly confirmed = new Map<string, Confirmed>();
  /** Messages acked or rejected at their home. */
  private readonly finished = new Set<string>();
  private readonly holders = new Map<string, Holder>();
  private readonly instrumented = new WeakSet<Queue>();
  homeSettles = 0;
  deliveries = 0;

  constructor(private readonly now: () => number) {}

  fault(invariant: string, detail: string): void {
    this.violations.push({ invariant, groupId: "queues", timeMs: this.now(), detail });
  }

  confirm(key: string, queue: string, storeId: number): void {
    this.confirmed.set(key, { queue, storeId });
  }

  get confirmedCount(): number {
    return this.confirmed.size;
  }

  /** A client got `key`: nobody else may hold it now. */
  held(key: string, holder: Holder): void {
    this.deliveries++;
    const other = this.holders.get(key);
    if (other !== undefined) {
      this.fault(
        "exclusive delivery",
        `${key} delivered to ${holder.id} on ${holder.node} while ${other.id} on ${other.node} holds it`,
      );
    }
    this.holders.set(key, holder);
  }

  /** The holder settled it, or its holding ended with its consumer. */
  released(key: string, holder: Holder): void {
    if (this.holders.get(key) === holder) this.holders.delete(key);
  }

  /** The link between a and b was lost: the homes requeue what the other side held. */
  linkLost(a: string, b: string): void {
    for (const [key, h] of this.holders) {
      if ((h.node === a && h.home === b) || (h.node === b && h.home === a))
        this.holders.delete(key);
    }
  }

  /** A home paused (minority): it requeued what other nodes' clients held of its queues. */
  homePaused(home: string): void {
    for (const [key, h] of this.holders) {
      if (h.home === home && h.node !== home) this.holders.delete(key);
    }
  }

  /** A node stopped: what it held is requeued by the homes, and what its queues had out is gone. */
  nodeDown(node: string): void {
    for (const [key, h] of this.holders) {
      if (h.node === node || h.home === node) this.holders.delete(key);
    }
  }

  /**
   * Watches a queue on its home: every delivery it has out, every settle of one. The
   * message key is its body.
   */
  instrumentHomeQueue(queue: Queue): void {
    if (this.instrumented.has(queue)) return;
    this.instrumented.add(queue);
    const out = new Set<QueueEntry>();
    // Test-only access to the queue's private delivery step: the one place entries go out.
    const q = queue as unknown as {
      deliverTo(consumer: Consumer, entry: QueueEntry, nowMs: number): void;
      fetch(noAck: boolean, nowMs: number): QueueEntry | undefined;
      ack(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void;
      requeue(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void;
      reject(entry: QueueEntry, consumer: Consumer | undefined, nowMs: number): void;
    };
    const deliverTo = q.deliverTo.bind(q);
    q.deliverTo = (consumer, entry, nowMs) => {
      if (!consumer.options.noAck) out.add(entry);
      deliverTo(consumer, entry, nowMs);
      const limit = consumer.options.prefetchCount;
      if (limit > 0 && consumer.unacked > limit) {
        this.fault(
          "prefetch",
          `home of ${queue.name} has ${consumer.unacked} unacked for ${consumer.options.tag} (prefetch ${limit})`,
        );
      }
    };
    const fetch = q.fetch.bind(q);
    q.fetch = (noAck, nowMs) => {
      const entry = fetch(noAck, nowMs);
      if (entry && !noAck) out.add(entry);
      return entry;
    };
    for (const outcome of ["ack", "requeue", "reject"] as const) {
      const settle = q[outcome].bind(q);
      q[outcome] = (entry, consumer, nowMs) => {
        const key = entry.message.body.toString();
        if (!out.delete(entry)) {
          this.fault(
            "single settlement",
            `home of ${queue.name} asked to ${outcome} ${key}, which it does not have out`,
          );
          return;
        }
        this.homeSettles++;
        if (outcome !== "requeue") this.finished.add(key);
        settle(entry, consumer, nowMs);
      };
    }
  }

  /** At the end: every confirmed message of a queue that still exists was consumed. */
  checkAtLeastOnce(currentStoreId: (queue: string) => number | undefined): void {
    const missing: string[] = [];
    for (const [key, c] of this.confirmed) {
      if (currentStoreId(c.queue) !== c.storeId) continue; // its queue was deleted
      if (!this.finished.has(key)) missing.push(key);
    }
    if (missing.length > 0) {
      this.fault(
        "at least once",
        `${missing.length} confirmed messages never consumed after the heal: ${missing.slice(0, 5).join(", ")}`,
      );
    }
  }
}
