import assert from "node:assert/strict";
import { test } from "node:test";
import { RunMeter } from "../../../src/perf/run-meter.js";

test("a sample's rates are the counts of its interval divided by its length", () => {
  const m = new RunMeter(1000);
  m.published(500);
  for (let i = 0; i < 250; i++) m.delivered(2000);
  for (let i = 0; i < 100; i++) m.confirmedOne(3000, false);
  const s = m.sample(1500); // half a second
  assert.equal(s.elapsedS, 0.5);
  assert.equal(s.sentPerS, 1000);
  assert.equal(s.receivedPerS, 500);
  assert.equal(s.confirmedPerS, 200);
  assert.equal(s.nackedPerS, 0);
  assert.deepEqual(s.latencyMs, { p50: 2, p95: 2, p99: 2, max: 2 });
});

test("each sample counts only its own interval", () => {
  const m = new RunMeter(0);
  m.published(100);
  m.sample(1000);
  m.published(300);
  const s = m.sample(2000);
  assert.equal(s.sentPerS, 300);
  assert.equal(s.elapsedS, 2);
});

test("an interval with no timestamped delivery has no latency figure", () => {
  const m = new RunMeter(0);
  m.delivered(undefined);
  const s = m.sample(1000);
  assert.equal(s.receivedPerS, 1);
  assert.equal(s.latencyMs, undefined);
  assert.equal(m.result(1000).latencyMs, undefined);
});

test("the summary's rates are totals over the run's duration", () => {
  const m = new RunMeter(0);
  m.published(30_000);
  m.sample(1000);
  for (let i = 0; i < 20_000; i++) m.delivered(1000 + (i % 10) * 1000);
  const r = m.result(4000);
  assert.equal(r.durationS, 4);
  assert.deepEqual(r.totals, { sent: 30_000, received: 20_000, confirmed: 0, nacked: 0 });
  assert.equal(r.rates.sentPerS, 7500);
  assert.equal(r.rates.receivedPerS, 5000);
  assert.equal(r.rates.confirmedPerS, 0);
  // Latencies 1..10 ms in equal numbers; the current (unsampled) interval counts too.
  assert.equal(r.latencyMs?.count, 20_000);
  assert.equal(r.latencyMs?.min, 1);
  assert.equal(r.latencyMs?.max, 10);
  assert.ok(Math.abs(r.latencyMs!.p50 - 5) <= 5 / 64);
  assert.ok(Math.abs(r.latencyMs!.p99 - 10) <= 10 / 64);
  assert.equal(r.latencyMs?.mean, 5.5);
  assert.equal(r.confirmLatencyMs, undefined);
});

test("nacks are counted apart from confirms, and both give confirm latency", () => {
  const m = new RunMeter(0);
  m.confirmedOne(1000, false);
  m.confirmedOne(3000, true);
  const r = m.result(1000);
  assert.equal(r.totals.confirmed, 1);
  assert.equal(r.totals.nacked, 1);
  assert.equal(r.confirmLatencyMs?.count, 2);
  assert.equal(r.confirmLatencyMs?.max, 3);
});

test("after freeze nothing more is counted and the duration ends at the freeze", () => {
  const m = new RunMeter(0);
  m.published(10);
  m.freeze(2000);
  m.published(10);
  m.delivered(5);
  m.confirmedOne(5, false);
  const r = m.result(9000);
  assert.equal(r.durationS, 2);
  assert.deepEqual(r.totals, { sent: 10, received: 0, confirmed: 0, nacked: 0 });
  assert.equal(r.rates.sentPerS, 5);
});

test("restart drops what was counted before the run proper", () => {
  const m = new RunMeter(0);
  m.published(10);
  m.delivered(100);
  m.sample(500);
  m.restart(1000);
  m.published(4);
  const r = m.result(2000);
  assert.deepEqual(r.totals, { sent: 4, received: 0, confirmed: 0, nacked: 0 });
  assert.equal(r.samples.length, 0);
  assert.equal(r.durationS, 1);
  assert.equal(m.lastSampleAtMs, 1000);
});
