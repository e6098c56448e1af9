import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRatio, formatValue, ratio, renderReport } from "../../../bench/lib/report.js";
import { mergeScenario, type ScenarioRecord } from "../../../bench/lib/results.js";

const machine = {
  cpuModel: "Test CPU",
  cores: 2,
  memoryGiB: 24,
  kernel: "6.1",
  os: "Debian",
  node: "v20",
  warrenCommit: "abc1234",
  rabbitmq: "3.10.8",
  erlang: "25.2",
};

function record(over: Partial<ScenarioRecord>): ScenarioRecord {
  return {
    id: "transient-16b",
    title: "Transient 16 B",
    description: "one publisher",
    optIn: false,
    ranAt: "2026-11-22T05:00:00.000Z",
    machine,
    metrics: [
      { key: "received", label: "delivered", unit: "msg/s", better: "higher" },
      { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
    ],
    warren: { received: 50_000, p99: 2 },
    rabbitmq: { received: 40_000, p99: 4 },
    notes: ["a note"],
    plots: { warren: "bench/results/plots/transient-16b-warren.svg" },
    ...over,
  };
}

test("the ratio is Warren over RabbitMQ, undefined when either is missing", () => {
  assert.equal(ratio(50, 40), 1.25);
  assert.equal(ratio(undefined, 40), undefined);
  assert.equal(ratio(50, 0), undefined);
  assert.equal(formatRatio(1.25), "1.25x");
  assert.equal(formatRatio(0.5), "0.500x");
  assert.equal(formatRatio(undefined), "n/a");
  assert.equal(formatValue(123_456.7), "123,457");
  assert.equal(formatValue(1.23456), "1.23");
  assert.equal(formatValue(undefined), "n/a");
});

test("the report has a summary row per scenario with both figures and the ratio", () => {
  const md = renderReport({
    results: { scenarios: { "transient-16b": record({}) } },
    order: ["transient-16b", "missing"],
    observations: "Warren is fine.",
    headlineMetric: { "transient-16b": "received" },
  });
  assert.match(
    md,
    /\| \[Transient 16 B\]\(#transient-16b\) \| delivered, msg\/s \(higher is better\) \| 50,000 \| 40,000 \| 1\.25x \| 2026-11-22 \|/,
  );
  assert.match(md, /\| latency p99, ms \(lower is better\) \| 2 \| 4 \| 0\.500x \|/);
  assert.match(md, /Test CPU, 2 cores, 24 GiB RAM/);
  assert.match(md, /RabbitMQ 3\.10\.8 on Erlang\/OTP 25\.2/);
  assert.match(md, /Warren is fine\./);
  assert.match(md, /- a note/);
  assert.match(md, /\[Warren\]\(\.\.\/bench\/results\/plots\/transient-16b-warren\.svg\)/);
});

test("without RabbitMQ the column says so and there is no ratio", () => {
  const md = renderReport({
    results: { scenarios: { "transient-16b": record({ rabbitmq: undefined }) } },
    order: ["transient-16b"],
    observations: "",
    headlineMetric: {},
  });
  assert.match(md, /\| delivered, msg\/s \(higher is better\) \| 50,000 \| not run \| n\/a \|/);
});

test("a broker left out of a run keeps its figures, notes, plot and date", () => {
  const earlier = record({
    ranAt: "2026-11-22T05:00:00.000Z",
    notes: ["Warren: old note", "RabbitMQ: slow start"],
    plots: { warren: "w-old.svg", rabbitmq: "r-old.svg" },
  });
  const fresh = record({
    ranAt: "2026-11-22T06:00:00.000Z",
    warren: { received: 60_000, p99: 1 },
    rabbitmq: undefined,
    notes: [],
    plots: { warren: "w-new.svg" },
  });
  const merged = mergeScenario(earlier, fresh, ["warren"]);
  assert.deepEqual(merged.warren, { received: 60_000, p99: 1 });
  assert.deepEqual(merged.rabbitmq, earlier.rabbitmq);
  assert.deepEqual(merged.notes, ["RabbitMQ: slow start"]);
  assert.deepEqual(merged.plots, { warren: "w-new.svg", rabbitmq: "r-old.svg" });
  assert.deepEqual(merged.ranAtByBroker, {
    warren: "2026-11-22T06:00:00.000Z",
    rabbitmq: "2026-11-22T05:00:00.000Z",
  });
  const md = renderReport({
    results: { scenarios: { "transient-16b": merged } },
    order: ["transient-16b"],
    observations: "",
    headlineMetric: {},
  });
  assert.match(md, /Warren run on 2026-11-22 06:00 UTC, RabbitMQ on 2026-11-22 05:00 UTC\./);
  // Both brokers run: nothing is kept.
  assert.equal(mergeScenario(earlier, fresh, ["warren", "rabbitmq"]).rabbitmq, undefined);
});
