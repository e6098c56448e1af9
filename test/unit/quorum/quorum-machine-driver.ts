/**
 * A thin driver for the quorum queue machine in tests: it numbers the log indexes, keeps a
 * clock, and reads the effects of each apply back as plain ids and reasons.
 */
import {
  DEFAULT_QUORUM_CONFIG,
  type QuorumCommand,
  type QuorumConfig,
} from "../../../src/quorum/quorum-commands.js";
import {
  type DeadLetterReason,
  type QuorumApplyResult,
  type QuorumDelivery,
  QuorumMachine,
} from "../../../src/quorum/quorum-machine.js";

/** A command without its clock: the driver adds it. */
export type Unclocked<C> = C extends QuorumCommand ? Omit<C, "nowMs"> & { nowMs?: number } : never;

export interface PublishOptions {
  high?: boolean;
  size?: number;
  expiresAtMs?: number;
  publisher?: string;
  node?: string;
  seq?: number;
  nowMs?: number;
}

export class Driver {
  machine = new QuorumMachine();
  index = 0;
  nowMs = 1_000;
  last: QuorumApplyResult | undefined;

  constructor(config: Partial<QuorumConfig> = {}) {
    if (Object.keys(config).length > 0) this.configure(config);
  }

  apply(command: Unclocked<QuorumCommand>): QuorumApplyResult {
    const clocked = { ...command, nowMs: command.nowMs ?? this.nowMs } as QuorumCommand;
    this.last = this.machine.apply(++this.index, clocked);
    return this.last;
  }

  configure(config: Partial<QuorumConfig>): QuorumApplyResult {
    return this.apply({ type: "config", config: { ...DEFAULT_QUORUM_CONFIG, ...config } });
  }

  /** Enqueues one message; returns its id (the log index) and the apply's result. */
  publish(options: PublishOptions = {}): { id: number; result: QuorumApplyResult } {
    const result = this.apply({
      type: "enqueue",
      publisher: options.publisher ?? "p",
      node: options.node ?? "n1",
      seq: options.seq ?? 0,
      expiresAtMs: options.expiresAtMs ?? 0,
      high: options.high ?? false,
      size: options.size ?? 1,
      payload: new Uint8Array([this.index & 0xff]),
      nowMs: options.nowMs,
    });
    return { id: this.index, result };
  }

  /** Enqueues n messages and returns their ids. */
  publishMany(n: number, options: PublishOptions = {}): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(this.publish(options).id);
    return ids;
  }

  consume(key: string, window = 100, priority = 0, node = "n1"): QuorumApplyResult {
    return this.apply({
      type: "checkout",
      consumer: key,
      node,
      tag: `tag-${key}`,
      window,
      priority,
    });
  }

  settle(key: string, ids: readonly number[]): QuorumApplyResult {
    return this.apply({ type: "settle", consumer: key, ids });
  }

  giveBack(key: string, ids: readonly number[]): QuorumApplyResult {
    return this.apply({ type: "return", consumer: key, ids });
  }

  discard(key: string, ids: readonly number[]): QuorumApplyResult {
    return this.apply({ type: "discard", consumer: key, ids });
  }

  /** The ids a consumer holds, in id order. */
  held(key: string): number[] {
    const consumer = this.machine.consumers.get(key);
    return consumer === undefined ? [] : [...consumer.checkedOut.keys()].sort((a, b) => a - b);
  }

  /** Ready ids in the order the machine would serve them, without changing it. */
  readyLines(): { returns: number[]; high: number[]; normal: number[] } {
    const ids = (line: { toArray(): { id: number }[] }) => line.toArray().map((m) => m.id);
    return {
      returns: ids(this.machine.returns),
      high: ids(this.machine.high),
      normal: ids(this.machine.normal),
    };
  }
}

/** Deliveries of a result, per consumer. */
export function deliveries(result: QuorumApplyResult): Map<string, QuorumDelivery[]> {
  const out = new Map<string, QuorumDelivery[]>();
  for (const effect of result.effects) {
    if (effect.type !== "deliver") continue;
    out.set(effect.consumer, [...(out.get(effect.consumer) ?? []), ...effect.deliveries]);
  }
  return out;
}

/** The ids one consumer got from a result, in delivery order. */
export function deliveredTo(result: QuorumApplyResult, key: string): number[] {
  return (deliveries(result).get(key) ?? []).map((d) => d.id);
}

/** Dead-letterings of a result as [id, reason] pairs, in order. */
export function deadLettered(result: QuorumApplyResult): [number, DeadLetterReason][] {
  const out: [number, DeadLetterReason][] = [];
  for (const effect of result.effects)
    if (effect.type === "dead-letter") for (const m of effect.messages) out.push([m.id, m.reason]);
  return out;
}
