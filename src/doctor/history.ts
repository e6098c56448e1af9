import type { BrokerCounters } from "../vhost/broker-counters.js";

/** One queue at one moment: depths and running totals (from Queue.stats()). */
export interface QueueSample {
  readonly vhost: string;
  readonly name: string;
  readonly ready: number;
  readonly unacked: number;
  readonly consumers: number;
  readonly published: number;
  readonly delivered: number;
  readonly acked: number;
  readonly redelivered: number;
}

/** The node at one moment, taken every few seconds by the management service. */
export interface NodeSample {
  readonly atMs: number;
  readonly counters: Readonly<BrokerCounters>;
  readonly queues: ReadonlyMap<string, QueueSample>;
  /** Unroutable publishes per exchange ("vhost\0name"), running totals. */
  readonly unroutable: ReadonlyMap<string, number>;
  readonly connections: number;
  readonly fdUsed: number;
}

/** A connection opening (valid protocol header) or ending, with who and why. */
export interface ConnectionEvent {
  readonly atMs: number;
  readonly kind: "opened" | "closed";
  readonly name: string;
  readonly peerHost: string;
  readonly user: string | undefined;
  readonly vhost: string | undefined;
  /** Why it ended (closed events only): the connection's close reason. */
  readonly reason: string;
  /** Closed by the broker because the client stopped sending heartbeats. */
  readonly missedHeartbeats: boolean;
}

/** The broker counters that are plain numbers (not the per-reason tables). */
export type NumericCounter = {
  [K in keyof BrokerCounters]: BrokerCounters[K] extends number ? K : never;
}[keyof BrokerCounters];

export function queueKey(vhost: string, name: string): string {
  return `${vhost}\u0000${name}`;
}

/** Per-second rates between two running totals; 0 when there is no earlier sample. */
export function ratePerSec(now: number, before: number | undefined, elapsedMs: number): number {
  if (before === undefined || elapsedMs <= 0) return 0;
  return Math.max(0, ((now - before) * 1000) / elapsedMs);
}

/**
 * The recent past of one node, kept in memory: periodic samples (depths and
 * counters) and connection events. Pure: the caller supplies samples and events
 * with their times; the doctor and the rate fields of the API read it.
 */
export class History {
  private readonly samples: NodeSample[] = [];
  private readonly events: ConnectionEvent[] = [];

  constructor(
    /** How much sample history to keep. */
    readonly retainMs = 10 * 60_000,
    /** How many connection events to keep at most (a churn storm must not grow memory). */
    readonly maxEvents = 20_000,
  ) {}

  record(sample: NodeSample): void {
    this.samples.push(sample);
    const horizon = sample.atMs - this.retainMs;
    while (this.samples.length > 2 && this.samples[0]!.atMs < horizon) this.samples.shift();
  }

  recordConnection(event: ConnectionEvent): void {
    this.events.push(event);
    if (this.events.length > this.maxEvents)
      this.events.splice(0, this.events.length - this.maxEvents);
    const horizon = event.atMs - this.retainMs;
    while (this.events.length > 0 && this.events[0]!.atMs < horizon) this.events.shift();
  }

  get latest(): NodeSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** The sample before the latest one (for rates). */
  get previous(): NodeSample | undefined {
    return this.samples[this.samples.length - 2];
  }

  /** Samples taken at or after `sinceMs`, oldest first. */
  samplesSince(sinceMs: number): NodeSample[] {
    return this.samples.filter((s) => s.atMs >= sinceMs);
  }

  /** The oldest sample at or after `sinceMs`. */
  firstSince(sinceMs: number): NodeSample | undefined {
    return this.samples.find((s) => s.atMs >= sinceMs);
  }

  connectionEventsSince(sinceMs: number): ConnectionEvent[] {
    return this.events.filter((e) => e.atMs >= sinceMs);
  }

  /** A queue's per-second rates over the last sample interval. */
  queueRates(vhost: string, name: string): QueueRates {
    const a = this.previous?.queues.get(queueKey(vhost, name));
    const b = this.latest?.queues.get(queueKey(vhost, name));
    const elapsed = (this.latest?.atMs ?? 0) - (this.previous?.atMs ?? 0);
    if (!a || !b) return ZERO_RATES;
    return {
      publish: ratePerSec(b.published, a.published, elapsed),
      deliverGet: ratePerSec(b.delivered, a.delivered, elapsed),
      ack: ratePerSec(b.acked, a.acked, elapsed),
      redeliver: ratePerSec(b.redelivered, a.redelivered, elapsed),
      messages: (b.ready + b.unacked - a.ready - a.unacked) / Math.max(elapsed / 1000, 1e-3),
    };
  }

  /** A broker counter's per-second rate over the last sample interval. */
  counterRate(key: NumericCounter): number {
    const a = this.previous;
    const b = this.latest;
    if (!a || !b) return 0;
    return ratePerSec(b.counters[key], a.counters[key], b.atMs - a.atMs);
  }
}

export interface QueueRates {
  readonly publish: number;
  readonly deliverGet: number;
  readonly ack: number;
  readonly redeliver: number;
  /** Change in depth per second (may be negative). */
  readonly messages: number;
}

const ZERO_RATES: QueueRates = { publish: 0, deliverGet: 0, ack: 0, redeliver: 0, messages: 0 };
