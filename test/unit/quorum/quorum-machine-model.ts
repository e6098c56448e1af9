/**
 * The quorum queue's rules written out the slow, obvious way with plain arrays, as a reference
 * for the model-based test of QuorumMachine. It knows nothing of the machine's structures:
 * it is the semantics of RabbitMQ 4 quorum queues as the brief states them.
 *
 * - ready messages: returned ones first (in the order they came back), then two classes, high
 *   served twice for each normal one while both wait; the count runs over everything taken
 *   from the high or normal line (deliveries, basic.get and drop-head alike);
 * - consumers: highest priority first, least recently served among equals (never served
 *   first, in registration order), each up to its window; with single active consumer only
 *   the first registered non-cancelled one is given anything;
 * - remove and node-down put held messages back at the head in id order, not counting a
 *   return; return counts one and dead-letters past the delivery limit; discard dead-letters;
 * - TTL: an expiry strictly earlier than the machine's clock (the largest seen) expires a
 *   message when it is met at a line's head; an enqueue with no time left that no consumer
 *   took in the same apply expires at once;
 * - drop-head drops from the head (dead-letter maxlen); reject-publish refuses the enqueue;
 * - release puts messages a consumer's node never handed on back at the head in id order,
 *   as if never taken (not redelivered, the same attempt number when taken again).
 */
import type { QuorumCommand, QuorumConfig } from "../../../src/quorum/quorum-commands.js";
import { DEFAULT_QUORUM_CONFIG } from "../../../src/quorum/quorum-commands.js";
import type { DeadLetterReason } from "../../../src/quorum/quorum-machine.js";

export interface ModelMessage {
  id: number;
  size: number;
  high: boolean;
  expiresAt: number;
  payload: Uint8Array;
  deliveryCount: number;
  /** Times handed out. */
  handedOut: number;
}

export interface ModelConsumer {
  key: string;
  node: string;
  window: number;
  priority: number;
  cancelled: boolean;
  getter: boolean;
  /** When it was last given a message (0: never). */
  lastServed: number;
  held: number[];
}

/** [id, deliveryCount, redelivered, attempt] */
export type ModelDelivery = [number, number, boolean, number];

export interface ModelOutcome {
  reply:
    | { type: "enqueue"; accepted: boolean; duplicate: boolean; outOfSequence?: boolean }
    | { type: "dequeue"; delivery: ModelDelivery | undefined; remaining: number }
    | { type: "purge"; purged: number }
    | { type: "done" };
  delivered: Map<string, ModelDelivery[]>;
  /** [id, reason, deliveryCount] in the order they happened. */
  dead: [number, DeadLetterReason, number][];
  atLeastOnce: boolean;
}

const HIGH_PER_NORMAL = 2;

export class QuorumModel {
  config: QuorumConfig = DEFAULT_QUORUM_CONFIG;
  now = 0;
  messages = new Map<number, ModelMessage>();
  returns: number[] = [];
  high: number[] = [];
  normal: number[] = [];
  /** High messages taken since the last normal one. */
  highRun = 0;
  /** In registration order. */
  consumers: ModelConsumer[] = [];
  publishers = new Map<string, { node: string; seq: number; refused: number[] }>();
  dlxPending: number[] = [];
  private serves = 0;
  private out!: ModelOutcome;

  get readyCount(): number {
    return this.returns.length + this.high.length + this.normal.length;
  }

  get readyBytes(): number {
    let sum = 0;
    for (const id of [...this.returns, ...this.high, ...this.normal])
      sum += this.messages.get(id)!.size;
    return sum;
  }

  consumer(key: string): ModelConsumer | undefined {
    return this.consumers.find((c) => c.key === key);
  }

  apply(index: number, c: QuorumCommand): ModelOutcome {
    this.now = Math.max(this.now, c.nowMs);
    this.out = { reply: { type: "done" }, delivered: new Map(), dead: [], atLeastOnce: false };
    this.out.reply = this.command(index, c);
    this.dispatch();
    this.out.atLeastOnce = this.config.deadLetterStrategy === "at-least-once";
    return this.out;
  }

  private command(index: number, c: QuorumCommand): ModelOutcome["reply"] {
    switch (c.type) {
      case "enqueue":
        return this.enqueue(index, c);
      case "checkout": {
        const known = this.consumer(c.consumer);
        if (known !== undefined) {
          known.window = c.window;
          known.cancelled = false;
        } else
          this.consumers.push({
            key: c.consumer,
            node: c.node,
            window: c.window,
            priority: c.priority,
            cancelled: false,
            getter: false,
            lastServed: 0,
            held: [],
          });
        break;
      }
      case "cancel": {
        const known = this.consumer(c.consumer);
        if (known !== undefined) {
          known.cancelled = true;
          this.forgetIfIdle(known);
        }
        break;
      }
      case "remove": {
        const known = this.consumer(c.consumer);
        if (known !== undefined) this.putBackAtHead(this.drop([known]));
        break;
      }
      case "release": {
        const known = this.consumer(c.consumer);
        if (known === undefined) break;
        const back = [...new Set(c.ids)].filter((id) => known.held.includes(id));
        known.held = known.held.filter((id) => !back.includes(id));
        for (const id of back) {
          const m = this.messages.get(id)!;
          m.handedOut = Math.max(0, m.handedOut - 1);
        }
        this.putBackAtHead(back);
        this.forgetIfIdle(known);
        break;
      }
      case "settle":
      case "return":
      case "discard": {
        const known = this.consumer(c.consumer);
        if (known === undefined) break;
        for (const id of c.ids) {
          const at = known.held.indexOf(id);
          if (at < 0) continue;
          known.held.splice(at, 1);
          const m = this.messages.get(id)!;
          if (c.type === "settle") this.messages.delete(id);
          else if (c.type === "discard") this.deadLetter(m, "rejected");
          else {
            m.deliveryCount++;
            const limit = this.config.deliveryLimit;
            if (limit >= 0 && m.deliveryCount > limit) this.deadLetter(m, "delivery_limit");
            else this.returns.push(id);
          }
        }
        this.forgetIfIdle(known);
        break;
      }
      case "node-down": {
        this.putBackAtHead(this.drop(this.consumers.filter((x) => x.node === c.node)));
        for (const [key, p] of [...this.publishers])
          if (p.node === c.node) this.publishers.delete(key);
        break;
      }
      case "dequeue": {
        const m = this.take(true);
        if (m === undefined) return { type: "dequeue", delivery: undefined, remaining: 0 };
        const delivery = this.handOut(m);
        if (c.noAck) this.messages.delete(m.id);
        else {
          let getter = this.consumer(c.consumer);
          if (getter === undefined) {
            getter = {
              key: c.consumer,
              node: c.node,
              window: 0,
              priority: 0,
              cancelled: false,
              getter: true,
              lastServed: 0,
              held: [],
            };
            this.consumers.push(getter);
          }
          getter.held.push(m.id);
        }
        return { type: "dequeue", delivery, remaining: this.readyCount };
      }
      case "purge": {
        const ids = [...this.returns, ...this.high, ...this.normal];
        for (const id of ids) this.messages.delete(id);
        this.returns = [];
        this.high = [];
        this.normal = [];
        return { type: "purge", purged: ids.length };
      }
      case "expire":
        for (const line of [this.returns, this.high, this.normal]) {
          while (line.length > 0 && this.messages.get(line[0]!)!.expiresAt < this.now)
            this.deadLetter(this.messages.get(line.shift()!)!, "expired");
        }
        break;
      case "config":
        this.config = c.config;
        if (c.config.overflow === "drop-head") this.dropHeads();
        break;
      case "dlx-settle":
        for (const id of c.ids) {
          const at = this.dlxPending.indexOf(id);
          if (at < 0) continue;
          this.dlxPending.splice(at, 1);
          this.messages.delete(id);
        }
        break;
    }
    return { type: "done" };
  }

  private enqueue(index: number, c: QuorumCommand & { type: "enqueue" }): ModelOutcome["reply"] {
    if (c.seq > 0) {
      const known = this.publishers.get(c.publisher);
      if (known !== undefined && c.seq <= known.seq) {
        // A resend: answered as the first one was (a refusal stays one).
        const refused = known.refused.includes(c.seq);
        return { type: "enqueue", accepted: !refused, duplicate: true };
      }
      if (known !== undefined && c.seq > known.seq + 1)
        return { type: "enqueue", accepted: false, duplicate: false, outOfSequence: true };
      this.publishers.set(c.publisher, { node: c.node, seq: c.seq, refused: known?.refused ?? [] });
    }
    const { maxLength, maxLengthBytes, overflow, messageTtlMs } = this.config;
    if (overflow !== "drop-head") {
      if (
        (maxLength !== undefined && this.readyCount + 1 > maxLength) ||
        (maxLengthBytes !== undefined && this.readyBytes + c.size > maxLengthBytes)
      ) {
        // The resend of a refused publish must be refused again: remember the last 1,024.
        if (c.seq > 0) {
          const refused = this.publishers.get(c.publisher)!.refused;
          refused.push(c.seq);
          if (refused.length > 1_024) refused.shift();
        }
        return { type: "enqueue", accepted: false, duplicate: false };
      }
    }
    let expiresAt = c.expiresAtMs === 0 ? Number.POSITIVE_INFINITY : c.expiresAtMs;
    if (messageTtlMs !== undefined) expiresAt = Math.min(expiresAt, c.nowMs + messageTtlMs);
    const m: ModelMessage = {
      id: index,
      size: c.size,
      high: c.high,
      expiresAt,
      payload: c.payload,
      deliveryCount: 0,
      handedOut: 0,
    };
    this.messages.set(index, m);
    const line = c.high ? this.high : this.normal;
    line.push(index);
    this.dispatch();
    if (expiresAt <= c.nowMs && line.includes(index)) {
      line.splice(line.indexOf(index), 1);
      this.deadLetter(m, "expired");
    }
    if (overflow === "drop-head") this.dropHeads();
    return { type: "enqueue", accepted: true, duplicate: false };
  }

  private dropHeads(): void {
    const { maxLength, maxLengthBytes } = this.config;
    while (
      (maxLength !== undefined && this.readyCount > maxLength) ||
      (maxLengthBytes !== undefined && this.readyBytes > maxLengthBytes)
    ) {
      const m = this.take(false);
      if (m === undefined) break;
      this.deadLetter(m, "maxlen");
    }
  }

  /** The next ready message by the order of service, dropping expired ones met when asked. */
  private take(dropExpired: boolean): ModelMessage | undefined {
    for (;;) {
      let id: number;
      if (this.returns.length > 0) id = this.returns.shift()!;
      else if (
        this.high.length > 0 &&
        (this.normal.length === 0 || this.highRun < HIGH_PER_NORMAL)
      ) {
        id = this.high.shift()!;
        this.highRun++;
      } else if (this.normal.length > 0) {
        id = this.normal.shift()!;
        this.highRun = 0;
      } else return undefined;
      const m = this.messages.get(id)!;
      if (dropExpired && m.expiresAt < this.now) {
        this.deadLetter(m, "expired");
        continue;
      }
      return m;
    }
  }

  private nextConsumer(): ModelConsumer | undefined {
    const live = this.consumers.filter((c) => !c.getter && !c.cancelled);
    if (this.config.singleActiveConsumer) {
      const active = live[0];
      return active !== undefined && active.held.length < active.window ? active : undefined;
    }
    const roomy = live.filter((c) => c.held.length < c.window);
    if (roomy.length === 0) return undefined;
    const top = Math.max(...roomy.map((c) => c.priority));
    const equals = roomy.filter((c) => c.priority === top);
    const least = Math.min(...equals.map((c) => c.lastServed));
    return equals.find((c) => c.lastServed === least);
  }

  private dispatch(): void {
    for (;;) {
      const consumer = this.nextConsumer();
      if (consumer === undefined) return;
      const m = this.take(true);
      if (m === undefined) return;
      consumer.held.push(m.id);
      consumer.lastServed = ++this.serves;
      const list = this.out.delivered.get(consumer.key) ?? [];
      list.push(this.handOut(m));
      this.out.delivered.set(consumer.key, list);
    }
  }

  private handOut(m: ModelMessage): ModelDelivery {
    m.handedOut++;
    const delivery: ModelDelivery = [m.id, m.deliveryCount, m.handedOut > 1, m.handedOut];
    return delivery;
  }

  private drop(gone: ModelConsumer[]): number[] {
    this.consumers = this.consumers.filter((c) => !gone.includes(c));
    return gone.flatMap((c) => c.held);
  }

  private putBackAtHead(ids: number[]): void {
    this.returns = [...ids.sort((a, b) => a - b), ...this.returns];
  }

  private forgetIfIdle(c: ModelConsumer): void {
    if (c.cancelled && c.held.length === 0) this.consumers = this.consumers.filter((x) => x !== c);
  }

  private deadLetter(m: ModelMessage, reason: DeadLetterReason): void {
    if (!this.config.deadLetter) {
      this.messages.delete(m.id);
      return;
    }
    this.out.dead.push([m.id, reason, m.deliveryCount]);
    if (this.config.deadLetterStrategy === "at-least-once") this.dlxPending.push(m.id);
    else this.messages.delete(m.id);
  }
}
