/** Values below this are counted exactly, one bucket each. */
const LINEAR_LIMIT = 128;
/** Sub-buckets per power of two above LINEAR_LIMIT: relative error at most 1/64. */
const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Largest exponent kept; larger values are counted in the last bucket (2^40 us is 12 days). */
const MAX_EXPONENT = 40;
const FIRST_EXPONENT = Math.log2(LINEAR_LIMIT);
const BUCKET_COUNT = LINEAR_LIMIT + (MAX_EXPONENT - FIRST_EXPONENT + 1) * SUB_BUCKETS;

/** p50, p95, p99 and the extremes of a set of recorded values, in the unit they were recorded in. */
export interface Percentiles {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * A log-linear histogram in the manner of HdrHistogram: values under 128 are kept
 * exactly; above, each power of two is split into 64 linear sub-buckets, so any
 * percentile it reports is within 1/64 (1.6%) of a value actually recorded, in a
 * fixed 2.5k-bucket array whatever the number of samples. Min, max and mean are exact.
 * Values are non-negative integers (the load tool records microseconds).
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sum = 0;
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;

  get count(): number {
    return this.total;
  }

  record(value: number): void {
    const v = value < 0 ? 0 : Math.round(value);
    this.counts[bucketOf(v)]! += 1;
    this.total += 1;
    this.sum += v;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
  }

  /** Adds every value recorded in `other` (per-second histograms fold into the run's). */
  merge(other: LatencyHistogram): void {
    if (other.total === 0) return;
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    if (other.minValue < this.minValue) this.minValue = other.minValue;
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.minValue = Number.POSITIVE_INFINITY;
    this.maxValue = 0;
  }

  /**
   * The smallest recorded value v such that at least p% of the values are <= v (the
   * nearest-rank definition), reported as the highest value of v's bucket, clamped to
   * the exact min and max. 0 when nothing was recorded.
   */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    if (p <= 0) return this.minValue;
    const rank = Math.max(1, Math.ceil((Math.min(p, 100) / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        return Math.min(this.maxValue, Math.max(this.minValue, highestInBucket(i)));
      }
    }
    return this.maxValue;
  }

  summary(): Percentiles {
    return {
      count: this.total,
      min: this.total ? this.minValue : 0,
      mean: this.total ? this.sum / this.total : 0,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.maxValue,
    };
  }
}

/** The bucket holding integer v >= 0. */
export function bucketOf(v: number): number {
  if (v < LINEAR_LIMIT) return v;
  if (v >= 2 ** (MAX_EXPONENT + 1)) return BUCKET_COUNT - 1;
  let exponent = Math.floor(Math.log2(v));
  // log2 of an integer just under a power of two may round up to it.
  if (2 ** exponent > v) exponent -= 1;
  const base = 2 ** exponent;
  const sub = Math.floor(((v - base) / base) * SUB_BUCKETS);
  return LINEAR_LIMIT + (exponent - FIRST_EXPONENT) * SUB_BUCKETS + sub;
}

/** The largest integer that falls in bucket i. */
export function highestInBucket(i: number): number {
  if (i < LINEAR_LIMIT) return i;
  const exponent = FIRST_EXPONENT + Math.floor((i - LINEAR_LIMIT) / SUB_BUCKETS);
  const sub = (i - LINEAR_LIMIT) % SUB_BUCKETS;
  const base = 2 ** exponent;
  const width = base / SUB_BUCKETS;
  return base + (sub + 1) * width - 1;
}
