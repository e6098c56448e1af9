import type { Consumer } from "../queue/consumer.js";
import type { DetachedEntries } from "../queue/detached-entries.js";
import type { QueueHooks } from "../queue/queue-hooks.js";
import type { QueueSettings } from "../queue/queue-settings.js";
import type { Queue, QueueDefinition, QueueDelivery } from "../queue/queue-type.js";
import type { PolicyStore } from "./policies.js";
import type { VirtualHost } from "./virtual-host.js";

/**
 * Work whose cost grows with a queue's length, done a slice at a time on later
 * event-loop turns instead of all at once: the loop never pauses for it, so
 * heartbeats, other connections and the management API carry on (a purge of 5.3M
 * messages in one go held the loop for 13.9 s and every client missed heartbeats).
 */
export interface Chore {
  /** What it is doing, for status and for the report of a stall. */
  readonly what: string;
  /** Does at most `units` of work; returns true when the chore is done. */
  step(units: number, nowMs: number): boolean;
}

/** Units of work a chore does between two checks of the turn's time. */
const SLICE_UNITS = 2048;

/** The chores of a node, run round-robin in slices by the runtime, a few milliseconds a turn. */
export class Chores {
  private list: Chore[] = [];
  private next = 0;
  /** Set by the runtime: asks for a turn to run chores in. */
  wake: () => void = () => {};

  get size(): number {
    return this.list.length;
  }

  /** What the chores are doing now (for status). */
  describe(): string[] {
    return this.list.map((c) => c.what);
  }

  add(chore: Chore): void {
    this.list.push(chore);
    this.wake();
  }

  /**
   * Runs chores a slice each, in turn, until all are done or `enough()` says this
   * turn's share is used; returns whether any are left.
   */
  run(nowMs: number, enough: () => boolean): boolean {
    while (this.list.length > 0) {
      if (this.next >= this.list.length) this.next = 0;
      const chore = this.list[this.next]!;
      if (chore.step(SLICE_UNITS, nowMs)) this.list.splice(this.next, 1);
      else this.next++;
      if (enough()) break;
    }
    return this.list.length > 0;
  }

  /** Runs every chore to the end (tests, and shutdown). */
  runAll(nowMs: number): void {
    this.run(nowMs, () => false);
  }
}

/** Lets go of a purged or deleted queue's entries: settle or release records, memory credits. */
export function releaseChore(
  queue: Queue,
  entries: DetachedEntries,
  hooks: Pick<QueueHooks, "settled" | "settledCold">,
): Chore {
  const verb = queue.deleted ? "deleting" : "purging";
  return {
    get what() {
      return `${verb} queue '${queue.name}' in vhost '${queue.definition.vhost}': ${entries.remaining} messages left to release`;
    },
    step: (units) =>
      entries.release(
        units,
        (entry) => hooks.settled(queue, entry),
        (record) => hooks.settledCold(queue, record),
      ),
  };
}

/** A delivery to requeue: the queue it came from, the entry, and its consumer (if any). */
export interface Requeue {
  readonly queue: Queue;
  readonly entry: QueueDelivery;
  readonly consumer: Consumer | undefined;
}

/** Deliveries a closing channel requeues at once; more go back through a chore. */
export const REQUEUE_SLICE = 2048;

/**
 * Requeues a closed channel's unacknowledged deliveries: the first slice at once,
 * the rest on later turns (a consumer without a prefetch limit can hold hundreds of
 * thousands; putting them all back took 200 ms of the loop). Until its turn comes a
 * delivery still counts as unacknowledged on its queue.
 */
export function requeueAll(
  chores: Chores,
  channel: string,
  deliveries: readonly Requeue[],
  nowMs: number,
): void {
  let i = 0;
  const step = (units: number, now: number) => {
    const end = Math.min(deliveries.length, i + units);
    for (; i < end; i++) {
      const d = deliveries[i]!;
      d.queue.requeue(d.entry, d.consumer, now);
    }
    return i >= deliveries.length;
  };
  if (step(REQUEUE_SLICE, nowMs)) return;
  chores.add({
    get what() {
      return `requeueing ${deliveries.length - i} unacknowledged messages of closed ${channel}`;
    },
    step,
  });
}

/** Queues and exchanges a policy change re-resolves in one slice. */
export const POLICY_SLICE = 200;

/** What a policy chore needs of the broker: the settings of a queue, the policy of an exchange. */
export interface PolicySource {
  queueSettings(def: QueueDefinition): QueueSettings;
  readonly policies: { match: PolicyStore["match"] };
}

/**
 * Re-resolves the settings of a vhost's queues and exchanges after a policy change,
 * a slice at a time. Each queue reads the policy store when its turn comes, so
 * changes made meanwhile are taken into account and the last word wins.
 */
export function policyChore(broker: PolicySource, vhost: VirtualHost): Chore {
  const queues = [...vhost.queues.values()];
  const exchanges = [...vhost.exchanges.values()];
  let q = 0;
  let e = 0;
  return {
    get what() {
      return `applying policies to ${queues.length - q} more queues of vhost '${vhost.name}'`;
    },
    step: (units, nowMs) => {
      for (let n = 0; n < Math.min(units, POLICY_SLICE); n++) {
        if (q < queues.length) {
          const queue = queues[q++]!;
          if (!queue.deleted) queue.applySettings(broker.queueSettings(queue.definition), nowMs);
        } else if (e < exchanges.length) {
          const ex = exchanges[e++]!;
          ex.policy = broker.policies.match("policy", vhost.name, "exchange", ex.name);
        } else return true;
      }
      return q >= queues.length && e >= exchanges.length;
    },
  };
}

/**
 * Drops expired messages and messages over a length limit that did not fit in one
 * slice: `upkeep` does a slice and says whether it is done.
 */
export function upkeepChore(queue: Queue, upkeep: (nowMs: number) => boolean): Chore {
  return {
    get what() {
      return `dropping expired or over-limit messages of queue '${queue.name}' in vhost '${queue.definition.vhost}'`;
    },
    step: (_units, nowMs) => upkeep(nowMs),
  };
}
