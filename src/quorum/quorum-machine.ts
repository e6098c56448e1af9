/**
 * A quorum queue as a replicated state machine, in the shape of RabbitMQ's rabbit_fifo:
 * `apply(index, command)` changes the state and returns a reply (for the proposer) and
 * effects (deliveries, dead-letterings) that only the leader carries out. Every replica
 * applies the same commands in the same order and reaches the same state, so nothing here
 * reads a clock, draws a random number or does I/O: time comes in the commands.
 *
 * The queue's messages: ready ones wait in three lines (returned ones first, then RabbitMQ
 * 4's two priority classes, high served twice for each normal one); each consumer holds the
 * ones checked out to it until settled, returned or discarded; at-least-once dead-lettering
 * keeps the dead-lettered ones until their targets have them.
 */
import { Deque } from "../queue/deque.js";
import type { QuorumCommand, QuorumConfig } from "./quorum-commands.js";
import { DEFAULT_QUORUM_CONFIG } from "./quorum-commands.js";

export type DeadLetterReason = "expired" | "maxlen" | "rejected" | "delivery_limit";

export interface QuorumMessage {
  /** The log index of its enqueue. */
  readonly id: number;
  readonly payload: Uint8Array;
  readonly size: number;
  readonly high: boolean;
  /** Absolute expiry (per-message expiration and the queue's TTL); Infinity: none. */
  readonly expiresAtMs: number;
  /** Returns by a consumer (x-delivery-count). */
  deliveryCount: number;
  /** Times checked out: a message checked out before is redelivered. */
  acquired: number;
}

/** One message handed to a consumer (or basic.get) by an apply. */
export interface QuorumDelivery {
  readonly id: number;
  /** Which checkout of the message this is (1 for the first): a resend repeats it, a redelivery does not. */
  readonly attempt: number;
  readonly payload: Uint8Array;
  readonly deliveryCount: number;
  readonly redelivered: boolean;
}

export interface DeadLettered {
  readonly id: number;
  readonly payload: Uint8Array;
  readonly deliveryCount: number;
  readonly reason: DeadLetterReason;
}

export type QuorumEffect =
  | {
      readonly type: "deliver";
      readonly consumer: string;
      readonly node: string;
      readonly deliveries: QuorumDelivery[];
    }
  | {
      readonly type: "dead-letter";
      /** at-least-once: the leader settles them with dlx-settle once their targets have them. */
      readonly atLeastOnce: boolean;
      readonly messages: DeadLettered[];
    };

export type QuorumReply =
  | {
      readonly type: "enqueue";
      readonly accepted: boolean;
      readonly duplicate: boolean;
      /**
       * The publisher's number skips some not applied yet (they went to an earlier leader):
       * nothing was done; the publisher resends from the first unanswered, in order.
       */
      readonly outOfSequence?: boolean;
    }
  | {
      readonly type: "dequeue";
      readonly delivery: QuorumDelivery | undefined;
      readonly remaining: number;
    }
  | { readonly type: "purge"; readonly purged: number }
  | { readonly type: "done" };

export interface QuorumApplyResult {
  readonly reply: QuorumReply;
  readonly effects: QuorumEffect[];
}

export interface QuorumConsumer {
  readonly key: string;
  readonly node: string;
  readonly tag: string;
  window: number;
  readonly priority: number;
  /** basic.cancel'd: gets nothing more, keeps what it holds until settled. */
  cancelled: boolean;
  /** The node's basic.get holder: never dispatched to. */
  readonly getter: boolean;
  /** Registration order (single active consumer: the first one is active). */
  readonly order: number;
  /** Last time it was served (round robin among equal priorities). */
  served: number;
  readonly checkedOut: Map<number, QuorumMessage>;
}

export interface QuorumTotals {
  enqueued: number;
  delivered: number;
  redelivered: number;
  acked: number;
  returned: number;
  deadLettered: number;
  dropped: number;
}

const DONE: QuorumReply = { type: "done" };
/** x-retry-delay-max's default, as for classic queues (queue-settings.ts). */
const DEFAULT_RETRY_DELAY_MAX_MS = 60_000;
/** Refused sequence numbers a publisher's entry remembers, for resends after a leader change. */
export const REFUSED_REMEMBERED = 1_024;

export function rememberRefused(refused: number[], seq: number): void {
  refused.push(seq);
  if (refused.length > REFUSED_REMEMBERED) refused.shift();
}
/** High-priority messages served per normal one while both wait (RabbitMQ 4: 2:1). */
const HIGH_PER_NORMAL = 2;

export class QuorumMachine {
  config: QuorumConfig = DEFAULT_QUORUM_CONFIG;
  /** The largest clock any applied command carried. */
  nowMs = 0;
  readonly messages = new Map<number, QuorumMessage>();
  readonly returns = new Deque<QuorumMessage>();
  readonly high = new Deque<QuorumMessage>();
  readonly normal = new Deque<QuorumMessage>();
  /**
   * Returned messages waiting out their retry delay (x-retry-delay), by when they are due,
   * then id: they go back to the head (after the returned ones) once a command's clock passes.
   */
  readonly delayed: { readonly dueAtMs: number; readonly message: QuorumMessage }[] = [];
  delayedBytes = 0;
  readyBytes = 0;
  checkedOutCount = 0;
  checkedOutBytes = 0;
  readonly consumers = new Map<string, QuorumConsumer>();
  /** Publisher -> its node and the last sequence number applied. */
  readonly publishers = new Map<string, { node: string; seq: number; refused: number[] }>();
  /** At-least-once: dead-lettered messages not yet settled by their targets. */
  readonly dlxPending = new Map<number, DeadLettered>();
  readonly totals: QuorumTotals = {
    enqueued: 0,
    delivered: 0,
    redelivered: 0,
    acked: 0,
    returned: 0,
    deadLettered: 0,
    dropped: 0,
  };
  highStreak = 0;
  serveClock = 0;
  orderClock = 0;
  private effects: QuorumEffect[] = [];
  private deliveries = new Map<QuorumConsumer, QuorumDelivery[]>();
  private deadLetters: DeadLettered[] = [];

  get readyCount(): number {
    return this.returns.length + this.high.length + this.normal.length;
  }

  /** Consumers that receive deliveries (not basic.get holders, not cancelled). */
  get consumerCount(): number {
    let n = 0;
    for (const c of this.consumers.values()) if (!c.getter && !c.cancelled) n++;
    return n;
  }

  /** The single active consumer, when the queue has one. */
  activeConsumer(): QuorumConsumer | undefined {
    let active: QuorumConsumer | undefined;
    for (const c of this.consumers.values()) {
      if (c.getter || c.cancelled) continue;
      if (active === undefined || c.order < active.order) active = c;
    }
    return active;
  }

  /** The earliest expiry among the ready lines' heads or retry delay's end (Infinity: none). */
  nextExpiryMs(): number {
    let next = this.delayed[0]?.dueAtMs ?? Number.POSITIVE_INFINITY;
    for (const line of [this.returns, this.high, this.normal]) {
      const head = line.peek();
      if (head !== undefined && head.expiresAtMs < next) next = head.expiresAtMs;
    }
    return next;
  }

  apply(index: number, command: QuorumCommand): QuorumApplyResult {
    if (command.nowMs > this.nowMs) this.nowMs = command.nowMs;
    this.effects = [];
    this.releaseDelayed();
    const reply = this.applyCommand(index, command);
    this.dispatch();
    this.flushEffects();
    return { reply, effects: this.effects };
  }

  private applyCommand(index: number, c: QuorumCommand): QuorumReply {
    switch (c.type) {
      case "enqueue":
        return this.enqueue(index, c);
      case "checkout":
        this.checkout(c.consumer, c.node, c.tag, c.window, c.priority);
        return DONE;
      case "cancel": {
        const consumer = this.consumers.get(c.consumer);
        if (consumer !== undefined) {
          consumer.cancelled = true;
          this.forgetIfIdle(consumer);
        }
        return DONE;
      }
      case "remove": {
        const consumer = this.consumers.get(c.consumer);
        if (consumer !== undefined) this.removeConsumer(consumer);
        return DONE;
      }
      case "settle":
        this.settle(c.consumer, c.ids);
        return DONE;
      case "return":
        this.returnMessages(c.consumer, c.ids);
        return DONE;
      case "discard":
        this.discard(c.consumer, c.ids);
        return DONE;
      case "release": {
        const consumer = this.consumers.get(c.consumer);
        if (consumer === undefined) return DONE;
        const released: QuorumMessage[] = [];
        for (const id of c.ids) {
          const message = this.release(consumer, id);
          if (message !== undefined) released.push(message);
        }
        // Not seen by any client: back at the head, in order, as if never taken.
        released.sort((a, b) => b.id - a.id);
        for (const message of released) {
          message.acquired = Math.max(0, message.acquired - 1);
          this.returns.unshift(message);
          this.readyBytes += message.size;
        }
        this.forgetIfIdle(consumer);
        return DONE;
      }
      case "node-down": {
        // All its consumers' messages go back together, so the head is in id order across them.
        const gone = [...this.consumers.values()].filter((consumer) => consumer.node === c.node);
        this.returnToHead(gone.flatMap((consumer) => this.detach(consumer)));
        for (const [key, p] of [...this.publishers])
          if (p.node === c.node) this.publishers.delete(key);
        return DONE;
      }
      case "dequeue":
        return this.dequeue(c.consumer, c.node, c.noAck);
      case "purge":
        return { type: "purge", purged: this.purge() };
      case "expire":
        this.expireHeads();
        return DONE;
      case "config":
        this.config = c.config;
        // Only drop-head drops what is already there (rabbit_fifo's evaluate_limit);
        // reject-publish refuses new messages until the queue is below the limit.
        if (c.config.overflow === "drop-head") this.enforceLimits();
        return DONE;
      case "dlx-settle":
        for (const id of c.ids) {
          if (this.dlxPending.delete(id)) this.messages.delete(id);
        }
        return DONE;
    }
  }

  // ------------------------------------------------------------------ publishing

  private enqueue(index: number, c: QuorumCommand & { type: "enqueue" }): QuorumReply {
    if (c.seq > 0) {
      const known = this.publishers.get(c.publisher);
      if (known !== undefined && c.seq <= known.seq) {
        // A resend: answered as the first one was (a refusal stays one).
        const refused = known.refused.includes(c.seq);
        return { type: "enqueue", accepted: !refused, duplicate: true };
      }
      // Only the next number is taken (rabbit_fifo): a later one would make the skipped
      // ones look like duplicates when they arrive, and they would be confirmed, not stored.
      if (known !== undefined && c.seq > known.seq + 1)
        return { type: "enqueue", accepted: false, duplicate: false, outOfSequence: true };
      this.publishers.set(c.publisher, { node: c.node, seq: c.seq, refused: known?.refused ?? [] });
    }
    const { maxLength, maxLengthBytes, overflow, messageTtlMs } = this.config;
    if (overflow !== "drop-head") {
      const full =
        (maxLength !== undefined && this.readyCount >= maxLength) ||
        (maxLengthBytes !== undefined && this.readyBytes + c.size > maxLengthBytes);
      if (full) {
        if (c.seq > 0) rememberRefused(this.publishers.get(c.publisher)!.refused, c.seq);
        return { type: "enqueue", accepted: false, duplicate: false };
      }
    }
    let expiresAtMs = c.expiresAtMs === 0 ? Number.POSITIVE_INFINITY : c.expiresAtMs;
    if (messageTtlMs !== undefined) expiresAtMs = Math.min(expiresAtMs, c.nowMs + messageTtlMs);
    const message: QuorumMessage = {
      id: index,
      payload: c.payload,
      size: c.size,
      high: c.high,
      expiresAtMs,
      deliveryCount: 0,
      acquired: 0,
    };
    this.messages.set(index, message);
    (c.high ? this.high : this.normal).push(message);
    this.readyBytes += c.size;
    this.totals.enqueued++;
    this.dispatch();
    // A message with no time left that no consumer could take at once expires now (TTL 0).
    const line = c.high ? this.high : this.normal;
    if (expiresAtMs <= c.nowMs && line.at(line.length - 1) === message) {
      line.pop();
      this.readyBytes -= c.size;
      this.deadLetter(message, "expired");
    }
    if (overflow === "drop-head") this.enforceLimits();
    return { type: "enqueue", accepted: true, duplicate: false };
  }

  /** drop-head: the oldest ready messages go (dead-lettered as maxlen) until within limits. */
  private enforceLimits(): void {
    const { maxLength, maxLengthBytes } = this.config;
    while (
      (maxLength !== undefined && this.readyCount > maxLength) ||
      (maxLengthBytes !== undefined && this.readyBytes > maxLengthBytes)
    ) {
      const head = this.shiftReady(false);
      if (head === undefined) break;
      this.deadLetter(head, "maxlen");
    }
  }

  // ------------------------------------------------------------------ consuming

  private checkout(key: string, node: string, tag: string, window: number, priority: number): void {
    const existing = this.consumers.get(key);
    if (existing !== undefined) {
      // A repeated checkout (resent after a leader change) only updates the window.
      existing.window = window;
      existing.cancelled = false;
      return;
    }
    this.consumers.set(key, {
      key,
      node,
      tag,
      window,
      priority,
      cancelled: false,
      getter: false,
      order: ++this.orderClock,
      served: 0,
      checkedOut: new Map(),
    });
  }

  private dequeue(key: string, node: string, noAck: boolean): QuorumReply {
    const message = this.shiftReady(true);
    if (message === undefined) return { type: "dequeue", delivery: undefined, remaining: 0 };
    const delivery = this.deliveryOf(message);
    if (noAck) {
      this.forget(message);
      this.totals.acked++;
    } else {
      let getter = this.consumers.get(key);
      if (getter === undefined) {
        getter = {
          key,
          node,
          tag: "",
          window: 0,
          priority: 0,
          cancelled: false,
          getter: true,
          order: ++this.orderClock,
          served: 0,
          checkedOut: new Map(),
        };
        this.consumers.set(key, getter);
      }
      this.holdFor(getter, message);
    }
    return { type: "dequeue", delivery, remaining: this.readyCount };
  }

  private settle(key: string, ids: readonly number[]): void {
    const consumer = this.consumers.get(key);
    if (consumer === undefined) return;
    for (const id of ids) {
      const message = this.release(consumer, id);
      if (message === undefined) continue;
      this.forget(message);
      this.totals.acked++;
    }
    this.forgetIfIdle(consumer);
  }

  private returnMessages(key: string, ids: readonly number[]): void {
    const consumer = this.consumers.get(key);
    if (consumer === undefined) return;
    for (const id of ids) {
      const message = this.release(consumer, id);
      if (message === undefined) continue;
      message.deliveryCount++;
      this.totals.returned++;
      const limit = this.config.deliveryLimit;
      if (limit >= 0 && message.deliveryCount > limit) this.deadLetter(message, "delivery_limit");
      else if ((this.config.retryDelayMs ?? 0) > 0) this.delay(message);
      else this.requeue(message);
    }
    this.forgetIfIdle(consumer);
  }

  private discard(key: string, ids: readonly number[]): void {
    const consumer = this.consumers.get(key);
    if (consumer === undefined) return;
    for (const id of ids) {
      const message = this.release(consumer, id);
      if (message !== undefined) this.deadLetter(message, "rejected");
    }
    this.forgetIfIdle(consumer);
  }

  /** A consumer whose channel is gone: what it held goes back to the head, in id order. */
  private removeConsumer(consumer: QuorumConsumer): void {
    this.returnToHead(this.detach(consumer));
  }

  /** Forgets a consumer; returns what it held. */
  private detach(consumer: QuorumConsumer): QuorumMessage[] {
    this.consumers.delete(consumer.key);
    const held = [...consumer.checkedOut.values()];
    for (const message of held) {
      this.checkedOutCount--;
      this.checkedOutBytes -= message.size;
    }
    consumer.checkedOut.clear();
    return held;
  }

  /** Messages back at the head of the ready lines, in id order, their delivery counts unchanged. */
  private returnToHead(messages: QuorumMessage[]): void {
    const held = messages.sort((a, b) => a.id - b.id);
    // Oldest first at the head: unshift in reverse.
    for (let i = held.length - 1; i >= 0; i--) {
      const message = held[i]!;
      this.returns.unshift(message);
      this.readyBytes += message.size;
    }
  }

  private forgetIfIdle(consumer: QuorumConsumer): void {
    if (consumer.cancelled && consumer.checkedOut.size === 0) this.consumers.delete(consumer.key);
  }

  private release(consumer: QuorumConsumer, id: number): QuorumMessage | undefined {
    const message = consumer.checkedOut.get(id);
    if (message === undefined) return undefined;
    consumer.checkedOut.delete(id);
    this.checkedOutCount--;
    this.checkedOutBytes -= message.size;
    return message;
  }

  /** Warren's retry backoff: base delay doubling with each return, up to the maximum. */
  private delay(message: QuorumMessage): void {
    const base = this.config.retryDelayMs ?? 0;
    const max = this.config.retryDelayMaxMs ?? DEFAULT_RETRY_DELAY_MAX_MS;
    const wait = Math.min(max, base * 2 ** Math.max(0, Math.min(30, message.deliveryCount - 1)));
    const entry = { dueAtMs: this.nowMs + wait, message };
    let at = this.delayed.length;
    while (
      at > 0 &&
      (this.delayed[at - 1]!.dueAtMs > entry.dueAtMs ||
        (this.delayed[at - 1]!.dueAtMs === entry.dueAtMs &&
          this.delayed[at - 1]!.message.id > message.id))
    )
      at--;
    this.delayed.splice(at, 0, entry);
    this.delayedBytes += message.size;
  }

  /** Delayed messages whose time came go back behind the returned ones, in due order. */
  private releaseDelayed(): void {
    let n = 0;
    while (n < this.delayed.length && this.delayed[n]!.dueAtMs <= this.nowMs) n++;
    if (n === 0) return;
    for (const { message } of this.delayed.splice(0, n)) {
      this.delayedBytes -= message.size;
      this.requeue(message);
    }
  }

  private requeue(message: QuorumMessage): void {
    this.returns.push(message);
    this.readyBytes += message.size;
  }

  private holdFor(consumer: QuorumConsumer, message: QuorumMessage): void {
    consumer.checkedOut.set(message.id, message);
    this.checkedOutCount++;
    this.checkedOutBytes += message.size;
  }

  private deliveryOf(message: QuorumMessage): QuorumDelivery {
    const redelivered = message.acquired > 0;
    message.acquired++;
    this.totals.delivered++;
    if (redelivered) this.totals.redelivered++;
    return {
      id: message.id,
      attempt: message.acquired,
      payload: message.payload,
      deliveryCount: message.deliveryCount,
      redelivered,
    };
  }

  /** Hands ready messages to consumers with room, highest priority first, round robin. */
  private dispatch(): void {
    if (this.readyCount === 0 || this.consumers.size === 0) return;
    for (;;) {
      const consumer = this.nextConsumer();
      if (consumer === undefined) return;
      const message = this.shiftReady(true);
      if (message === undefined) return;
      this.holdFor(consumer, message);
      consumer.served = ++this.serveClock;
      let list = this.deliveries.get(consumer);
      if (list === undefined) {
        list = [];
        this.deliveries.set(consumer, list);
      }
      list.push(this.deliveryOf(message));
    }
  }

  private nextConsumer(): QuorumConsumer | undefined {
    if (this.config.singleActiveConsumer) {
      const active = this.activeConsumer();
      return active !== undefined && active.checkedOut.size < active.window ? active : undefined;
    }
    let best: QuorumConsumer | undefined;
    for (const c of this.consumers.values()) {
      if (c.getter || c.cancelled || c.checkedOut.size >= c.window) continue;
      if (
        best === undefined ||
        c.priority > best.priority ||
        (c.priority === best.priority && c.served < best.served)
      )
        best = c;
    }
    return best;
  }

  /**
   * The next ready message: returned ones first, then high twice per normal. Expired heads
   * met on the way are dead-lettered when `dropExpired`.
   */
  private shiftReady(dropExpired: boolean): QuorumMessage | undefined {
    for (;;) {
      let line: Deque<QuorumMessage>;
      if (this.returns.length > 0) line = this.returns;
      else if (
        this.high.length > 0 &&
        (this.normal.length === 0 || this.highStreak < HIGH_PER_NORMAL)
      )
        line = this.high;
      else if (this.normal.length > 0) line = this.normal;
      else return undefined;
      const message = line.shift()!;
      this.readyBytes -= message.size;
      if (line === this.high) this.highStreak++;
      else if (line === this.normal) this.highStreak = 0;
      if (dropExpired && message.expiresAtMs < this.nowMs) {
        this.deadLetter(message, "expired");
        continue;
      }
      return message;
    }
  }

  private expireHeads(): void {
    for (const line of [this.returns, this.high, this.normal]) {
      for (
        let head = line.peek();
        head !== undefined && head.expiresAtMs < this.nowMs;
        head = line.peek()
      ) {
        line.shift();
        this.readyBytes -= head.size;
        this.deadLetter(head, "expired");
      }
    }
  }

  private purge(): number {
    let purged = 0;
    for (const line of [this.returns, this.high, this.normal]) {
      for (const message of line.clear()) {
        this.messages.delete(message.id);
        this.readyBytes -= message.size;
        purged++;
      }
    }
    for (const { message } of this.delayed.splice(0)) {
      this.messages.delete(message.id);
      this.delayedBytes -= message.size;
      purged++;
    }
    return purged;
  }

  // ------------------------------------------------------------------ endings

  private forget(message: QuorumMessage): void {
    this.messages.delete(message.id);
  }

  private deadLetter(message: QuorumMessage, reason: DeadLetterReason): void {
    const dead: DeadLettered = {
      id: message.id,
      payload: message.payload,
      deliveryCount: message.deliveryCount,
      reason,
    };
    if (!this.config.deadLetter) {
      this.forget(message);
      this.totals.dropped++;
      return;
    }
    this.totals.deadLettered++;
    if (this.config.deadLetterStrategy === "at-least-once") this.dlxPending.set(message.id, dead);
    else this.forget(message);
    this.deadLetters.push(dead);
  }

  private flushEffects(): void {
    for (const [consumer, deliveries] of this.deliveries) {
      this.effects.push({
        type: "deliver",
        consumer: consumer.key,
        node: consumer.node,
        deliveries,
      });
    }
    this.deliveries = new Map();
    if (this.deadLetters.length > 0) {
      this.effects.push({
        type: "dead-letter",
        atLeastOnce: this.config.deadLetterStrategy === "at-least-once",
        messages: this.deadLetters,
      });
      this.deadLetters = [];
    }
  }
}
