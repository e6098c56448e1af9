import { LatencyHistogram, type Percentiles } from "./latency-histogram.js";

/** One second (or so) of a run: rates over the interval and the latency seen in it. */
export interface Sample {
  /** Seconds from the start of the run to the end of this interval. */
  readonly elapsedS: number;
  readonly sentPerS: number;
  readonly receivedPerS: number;
  readonly confirmedPerS: number;
  readonly nackedPerS: number;
  /** Publish-to-consume latency of the messages received in the interval; undefined if none. */
  readonly latencyMs: LatencyFigures | undefined;
}

export interface LatencyFigures {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface Totals {
  readonly sent: number;
  readonly received: number;
  readonly confirmed: number;
  readonly nacked: number;
}

export interface MeterResult {
  readonly durationS: number;
  readonly totals: Totals;
  /** Mean rates over the whole run: each total divided by durationS. */
  readonly rates: {
    readonly sentPerS: number;
    readonly receivedPerS: number;
    readonly confirmedPerS: number;
  };
  /** Publish-to-consume latency, milliseconds; undefined when no timestamped message arrived. */
  readonly latencyMs: Percentiles | undefined;
  /** Publish-to-confirm latency, milliseconds; undefined without confirms. */
  readonly confirmLatencyMs: Percentiles | undefined;
  readonly samples: readonly Sample[];
}

/**
 * Counts what a run does and turns it into per-interval samples and a summary. Time
 * comes in as an argument (milliseconds on any monotonic clock), so the maths is
 * testable without waiting. Latencies are recorded in microseconds and reported in ms.
 */
export class RunMeter {
  private sent = 0;
  private received = 0;
  private confirmed = 0;
  private nacked = 0;
  private last = { atMs: 0, sent: 0, received: 0, confirmed: 0, nacked: 0 };
  private readonly latency = new LatencyHistogram();
  private readonly intervalLatency = new LatencyHistogram();
  private readonly confirmLatency = new LatencyHistogram();
  private readonly samples: Sample[] = [];
  private frozenAtMs: number | undefined;

  private startMs: number;

  constructor(startMs: number) {
    this.startMs = startMs;
    this.last.atMs = startMs;
  }

  /** Starts over from zero at nowMs (what came before the run proper is not a figure). */
  restart(nowMs: number): void {
    this.startMs = nowMs;
    this.sent = this.received = this.confirmed = this.nacked = 0;
    this.last = { atMs: nowMs, sent: 0, received: 0, confirmed: 0, nacked: 0 };
    this.latency.reset();
    this.intervalLatency.reset();
    this.confirmLatency.reset();
    this.samples.length = 0;
    this.frozenAtMs = undefined;
  }

  /** When the last interval closed (the start, before the first sample). */
  get lastSampleAtMs(): number {
    return this.last.atMs;
  }

  get totals(): Totals {
    return {
      sent: this.sent,
      received: this.received,
      confirmed: this.confirmed,
      nacked: this.nacked,
    };
  }

  /** Stops counting (the run is over; late deliveries and confirms are not figures). */
  freeze(nowMs: number): void {
    if (this.frozenAtMs === undefined) this.frozenAtMs = nowMs;
  }

  get frozen(): boolean {
    return this.frozenAtMs !== undefined;
  }

  published(n = 1): void {
    if (this.frozenAtMs === undefined) this.sent += n;
  }

  /** A delivery; latencyUs undefined when the message carried no timestamp. */
  delivered(latencyUs: number | undefined): void {
    if (this.frozenAtMs !== undefined) return;
    this.received += 1;
    if (latencyUs !== undefined) this.intervalLatency.record(latencyUs);
  }

  confirmedOne(latencyUs: number, nack: boolean): void {
    if (this.frozenAtMs !== undefined) return;
    if (nack) this.nacked += 1;
    else this.confirmed += 1;
    this.confirmLatency.record(latencyUs);
  }

  /** Closes the interval that ends now and returns its sample. */
  sample(nowMs: number): Sample {
    const intervalMs = Math.max(1, nowMs - this.last.atMs);
    const perS = (now: number, before: number) => ((now - before) * 1000) / intervalMs;
    const l = this.intervalLatency;
    const s: Sample = {
      elapsedS: round3((nowMs - this.startMs) / 1000),
      sentPerS: perS(this.sent, this.last.sent),
      receivedPerS: perS(this.received, this.last.received),
      confirmedPerS: perS(this.confirmed, this.last.confirmed),
      nackedPerS: perS(this.nacked, this.last.nacked),
      latencyMs:
        l.count === 0
          ? undefined
          : {
              p50: usToMs(l.percentile(50)),
              p95: usToMs(l.percentile(95)),
              p99: usToMs(l.percentile(99)),
              max: usToMs(l.summary().max),
            },
    };
    this.latency.merge(l);
    l.reset();
    this.last = {
      atMs: nowMs,
      sent: this.sent,
      received: this.received,
      confirmed: this.confirmed,
      nacked: this.nacked,
    };
    this.samples.push(s);
    return s;
  }

  /**
   * The run's figures: totals over the time from start to freeze (or now), mean
   * rates, and latency percentiles over every message (the current interval included).
   */
  result(nowMs: number): MeterResult {
    const endMs = this.frozenAtMs ?? nowMs;
    const durationS = Math.max(0.001, (endMs - this.startMs) / 1000);
    const all = new LatencyHistogram();
    all.merge(this.latency);
    all.merge(this.intervalLatency);
    return {
      durationS: round3(durationS),
      totals: this.totals,
      rates: {
        sentPerS: this.sent / durationS,
        receivedPerS: this.received / durationS,
        confirmedPerS: this.confirmed / durationS,
      },
      latencyMs: all.count === 0 ? undefined : percentilesToMs(all.summary()),
      confirmLatencyMs:
        this.confirmLatency.count === 0
          ? undefined
          : percentilesToMs(this.confirmLatency.summary()),
      samples: [...this.samples],
    };
  }
}

function usToMs(us: number): number {
  return round3(us / 1000);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function percentilesToMs(p: Percentiles): Percentiles {
  return {
    count: p.count,
    min: usToMs(p.min),
    mean: usToMs(p.mean),
    p50: usToMs(p.p50),
    p95: usToMs(p.p95),
    p99: usToMs(p.p99),
    max: usToMs(p.max),
  };
}
