/**
 * Why a queue refused a message. The publisher's confirm is then a basic.nack.
 * - `reject-publish`: the queue is at its length limit with x-overflow
 *   reject-publish(-dlx) (RabbitMQ's classic and quorum queues);
 * - `unavailable`: a replicated queue that lost its majority cannot accept;
 * - `store-failed`: the store could not make the message durable (ENOSPC, EIO).
 */
export type RefusalReason = "reject-publish" | "unavailable" | "store-failed";

/** How an enqueue ended: accepted (as safe as its queue promises), or refused and why. */
export type EnqueueResult =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly reason: RefusalReason; readonly detail: string };

/**
 * The outcome of putting a message on one or more queues, which may settle after
 * the call: a persistent message on a durable classic queue is safe once the
 * store's fdatasync covers it; a replicated queue's once a majority has it.
 * Publisher confirms settle from it, so nothing here may call back twice.
 */
export interface EnqueueOutcome {
  /** The result when it is known already; undefined while it waits. */
  readonly now: EnqueueResult | undefined;
  /**
   * Calls back once with the result: at once when it is known, else when it settles.
   * A caller that needs no answer (a publish without confirms) need not ask.
   */
  whenSettled(cb: (result: EnqueueResult) => void): void;
}

export const ACCEPTED_RESULT: EnqueueResult = { accepted: true };

/** A result known at the time of the enqueue. */
class SettledOutcome implements EnqueueOutcome {
  constructor(readonly now: EnqueueResult) {}

  whenSettled(cb: (result: EnqueueResult) => void): void {
    cb(this.now);
  }
}

/** Accepted and already as safe as it will be (transient, or no durable queue). */
export const ACCEPTED: EnqueueOutcome = new SettledOutcome(ACCEPTED_RESULT);

export function refusedResult(reason: RefusalReason, detail: string): EnqueueResult {
  return { accepted: false, reason, detail };
}

/** Refused at once: its confirm is a nack. */
export function refused(reason: RefusalReason, detail: string): EnqueueOutcome {
  return new SettledOutcome(refusedResult(reason, detail));
}

/**
 * An outcome its queue settles later (a replicated queue when its log entry is
 * committed, a test's queue type when the test says so). Callbacks registered
 * before `settle` run then, in order; later ones run at once.
 */
export class PendingOutcome implements EnqueueOutcome {
  now: EnqueueResult | undefined;
  private waiting: ((result: EnqueueResult) => void)[] = [];

  get settled(): boolean {
    return this.now !== undefined;
  }

  whenSettled(cb: (result: EnqueueResult) => void): void {
    if (this.now) cb(this.now);
    else this.waiting.push(cb);
  }

  /** The first settle wins; later ones are ignored (a confirm is sent once). */
  settle(result: EnqueueResult): void {
    if (this.now) return;
    this.now = result;
    const waiting = this.waiting;
    this.waiting = [];
    for (const cb of waiting) cb(result);
  }
}

/**
 * One outcome for a message put on queues of several types: refused as soon as any
 * refuses (a full queue nacks the publish at once, as RabbitMQ's classic queues do),
 * accepted once all accepted.
 */
export function allOf(outcomes: readonly EnqueueOutcome[]): EnqueueOutcome {
  const pending: EnqueueOutcome[] = [];
  for (const o of outcomes) {
    if (o.now === undefined) pending.push(o);
    else if (!o.now.accepted) return o;
  }
  if (pending.length === 0) return ACCEPTED;
  if (pending.length === 1) return pending[0]!;
  const all = new PendingOutcome();
  let left = pending.length;
  for (const o of pending) {
    o.whenSettled((r) => {
      if (!r.accepted) all.settle(r);
      else if (--left === 0) all.settle(ACCEPTED_RESULT);
    });
  }
  return all;
}

/** A store that calls back once what was written before is on disk (MessageStore). */
export interface DurableWait {
  whenDurable(cb: (err: Error | undefined) => void): void;
}

/** Settles after the store's next fdatasync covers it: accepted, or refused with the write's error. */
class SyncedOutcome implements EnqueueOutcome {
  readonly now = undefined;

  constructor(private readonly store: DurableWait) {}

  whenSettled(cb: (result: EnqueueResult) => void): void {
    this.store.whenDurable((err) =>
      cb(err ? refusedResult("store-failed", err.message) : ACCEPTED_RESULT),
    );
  }
}

/**
 * Accepted once the store's group commit that covers it returns. Asking costs
 * nothing until someone asks (a publish without confirms never does).
 */
export function afterSync(store: DurableWait): EnqueueOutcome {
  return new SyncedOutcome(store);
}
