import assert from "node:assert/strict";
import { test } from "node:test";
import type { Sample } from "../../../src/perf/run-meter.js";
import { CSV_HEADER, samplesToCsv } from "../../../src/perf/samples-csv.js";
import { latencyUsOf, writeSendTime } from "../../../src/perf/send-time.js";
import {
  escapeXml,
  linearTicks,
  logRange,
  logTicks,
  niceCeiling,
  renderPlot,
} from "../../../src/perf/svg-plot.js";

function sample(elapsedS: number, latency = true): Sample {
  return {
    elapsedS,
    sentPerS: 1000 * elapsedS,
    receivedPerS: 900 * elapsedS,
    confirmedPerS: 800 * elapsedS,
    nackedPerS: 0,
    latencyMs: latency ? { p50: 0.5 * elapsedS, p95: 1, p99: 2 * elapsedS, max: 9 } : undefined,
  };
}

test("the plot is an SVG with a line per rate series and per latency percentile", () => {
  const svg = renderPlot(
    [1, 2, 3, 4].map((t) => sample(t)),
    "run <1> & co",
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  for (const series of ["sent/s", "received/s", "confirmed/s", "latency p50", "latency p99"]) {
    const lines = svg.match(
      new RegExp(`<polyline data-series="${series}"[^>]*points="([^"]*)"`, "g"),
    );
    assert.equal(lines?.length, 1, series);
    assert.equal(
      lines![0]!.split(" ").filter((p) => /^\d/.test(p) || p.startsWith('points="')).length > 0,
      true,
    );
  }
  assert.ok(svg.includes("run &#60;1&#62; &#38; co"), "title escaped");
  assert.ok(!svg.includes("NaN"), "no NaN coordinates");
});

test("seconds without latency figures break the latency line instead of drawing zero", () => {
  const svg = renderPlot([sample(1), sample(2, false), sample(3)], "gap");
  const p50 = svg.match(/<polyline data-series="latency p50"/g);
  assert.equal(p50?.length, 2);
});

test("a run with no samples or no latency still gives a readable SVG", () => {
  const empty = renderPlot([], "empty");
  assert.match(empty, /<svg/);
  assert.ok(!empty.includes("NaN"));
  const noLatency = renderPlot([sample(1, false)], "publish only");
  assert.match(noLatency, /no latency figures/);
});

test("axis ticks are round numbers covering the data", () => {
  assert.equal(niceCeiling(0), 1);
  assert.equal(niceCeiling(3), 5);
  assert.equal(niceCeiling(12_345), 20_000);
  assert.equal(niceCeiling(100), 100);
  assert.deepEqual(linearTicks(10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(logRange([0.3, 42]), [0.2, 50]);
  assert.deepEqual(logTicks(0.2, 50), [0.2, 0.5, 1, 2, 5, 10, 20, 50]);
  assert.equal(escapeXml(`a"b'c`), "a&#34;b&#39;c");
});

test("the CSV has a header and one row per second, empty latency cells when there was none", () => {
  const csv = samplesToCsv([sample(1), sample(2, false)]);
  const lines = csv.trimEnd().split("\n");
  assert.equal(lines[0], CSV_HEADER);
  assert.equal(lines[1], "1,1000,900,800,0,0.5,1,2,9");
  assert.equal(lines[2], "2,2000,1800,1600,0,,,,");
});

test("a stamped body gives its age in microseconds; a short or foreign one gives none", () => {
  const body = Buffer.alloc(16);
  writeSendTime(body, 1_000_000);
  assert.equal(latencyUsOf(body, 1_000_002.5), 2500);
  assert.equal(latencyUsOf(Buffer.alloc(4), 5), undefined);
  assert.equal(latencyUsOf(Buffer.alloc(16), Date.now()), undefined); // zero timestamp: decades old
});
