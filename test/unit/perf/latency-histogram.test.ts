import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  bucketOf,
  highestInBucket,
  LatencyHistogram,
} from "../../../src/perf/latency-histogram.js";

/** The nearest-rank percentile of a sorted array: the naive model the histogram approximates. */
function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

test("percentiles of 1..100 are exact below 128", () => {
  const h = new LatencyHistogram();
  for (let v = 1; v <= 100; v++) h.record(v);
  assert.deepEqual(h.summary(), {
    count: 100,
    min: 1,
    mean: 50.5,
    p50: 50,
    p95: 95,
    p99: 99,
    max: 100,
  });
});

test("an empty histogram reports zeros", () => {
  assert.deepEqual(new LatencyHistogram().summary(), {
    count: 0,
    min: 0,
    mean: 0,
    p50: 0,
    p95: 0,
    p99: 0,
    max: 0,
  });
});

test("a single value is every percentile", () => {
  const h = new LatencyHistogram();
  h.record(123_456);
  const s = h.summary();
  assert.equal(s.p50, 123_456);
  assert.equal(s.p99, 123_456);
  assert.equal(s.min, 123_456);
  assert.equal(s.max, 123_456);
});

test("p99 of a mostly fast run with a slow tail lands in the tail", () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 980; i++) h.record(1000);
  for (let i = 0; i < 20; i++) h.record(50_000);
  const p50 = h.percentile(50);
  assert.ok(p50 >= 1000 && p50 - 1000 <= 1000 / 64, `p50 ${p50}`);
  assert.ok(Math.abs(h.percentile(99) - 50_000) <= 50_000 / 64);
  assert.equal(h.summary().max, 50_000);
});

test("each bucket's highest value maps back to it and the next integer to the next bucket", () => {
  for (let i = 0; i < 2000; i++) {
    const hi = highestInBucket(i);
    assert.equal(bucketOf(hi), i, `bucket ${i} highest ${hi}`);
    assert.equal(bucketOf(hi + 1), i + 1, `bucket ${i} next ${hi + 1}`);
  }
});

test("every percentile is within 1/64 of the exact nearest-rank value", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 2 ** 34 }), { minLength: 1, maxLength: 500 }),
      fc.double({ min: 0.1, max: 100, noNaN: true }),
      (values, p) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        const exact = exactPercentile(sorted, p);
        const got = h.percentile(p);
        assert.ok(got >= exact, `p${p}: ${got} < exact ${exact}`);
        assert.ok(got - exact <= exact / 64, `p${p}: ${got} too far above exact ${exact}`);
      },
    ),
  );
});

test("merging histograms equals recording every value in one", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 200 }),
      fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 200 }),
      (a, b) => {
        const ha = new LatencyHistogram();
        const hb = new LatencyHistogram();
        const all = new LatencyHistogram();
        for (const v of a) ha.record(v);
        for (const v of b) hb.record(v);
        for (const v of [...a, ...b]) all.record(v);
        ha.merge(hb);
        assert.deepEqual(ha.summary(), all.summary());
      },
    ),
  );
});

test("negative and fractional values are clamped and rounded", () => {
  const h = new LatencyHistogram();
  h.record(-5);
  h.record(2.6);
  assert.equal(h.summary().min, 0);
  assert.equal(h.summary().max, 3);
});
