import assert from "node:assert/strict";
import { test } from "node:test";
import { renderNodeVersions } from "../../../bench/lib/node-versions-report.js";
import {
  type NodeVersionsRecord,
  roundOrder,
  spreadOf,
} from "../../../bench/lib/node-versions-results.js";
import { renderReport } from "../../../bench/lib/report.js";

const machine = {
  cpuModel: "Test CPU",
  cores: 2,
  memoryGiB: 24,
  kernel: "6.1",
  os: "Debian",
  node: "v20.20.2",
  warrenCommit: "abc1234",
  rabbitmq: undefined,
  erlang: undefined,
};

const runs = (xs: (number | undefined)[]) =>
  xs.map((received, i) => ({ round: i + 1, values: { received, startMs: 300 } }));

const record: NodeVersionsRecord = {
  startedAt: "2026-12-07T17:00:00.000Z",
  finishedAt: "2026-12-07T17:12:00.000Z",
  machine,
  versions: [
    { major: "20", version: "v20.20.2" },
    { major: "22", version: "v22.23.3" },
    { major: "24", version: "v24.21.0" },
  ],
  baseline: "20",
  rounds: 3,
  durationS: 20,
  scenarios: [
    {
      id: "transient-16b",
      title: "Transient 16 B",
      summary: ["received", "startMs"],
      metrics: [
        { key: "received", label: "delivered", unit: "msg/s", better: "higher" },
        { key: "startMs", label: "start", unit: "ms", better: "lower" },
        { key: "p99", label: "latency p99", unit: "ms", better: "lower" },
      ],
      runs: {
        "20": runs([100_000, 120_000, 110_000]),
        "22": runs([130_000, 90_000, 121_000]),
        "24": runs([99_000, undefined, 99_000]),
      },
      notes: ["transient-16b, Node 24, round 2: a note"],
    },
  ],
};

test("a version's figure is the median of its rounds, with the lowest and highest", () => {
  const r = record.scenarios[0]!.runs;
  assert.deepEqual(spreadOf(r["20"], "received"), {
    median: 110_000,
    min: 100_000,
    max: 120_000,
    count: 3,
  });
  // A round without the figure does not count; two rounds give their mean.
  assert.deepEqual(spreadOf(r["24"], "received"), {
    median: 99_000,
    min: 99_000,
    max: 99_000,
    count: 2,
  });
  assert.equal(spreadOf(r["24"], "p99"), undefined);
  assert.equal(spreadOf(undefined, "received"), undefined);
  assert.equal(spreadOf(runs([1, 4]), "received")?.median, 2.5);
});

test("the versions take turns going first, one rotation per round", () => {
  assert.deepEqual(roundOrder(["20", "22", "24"], 0), ["20", "22", "24"]);
  assert.deepEqual(roundOrder(["20", "22", "24"], 1), ["22", "24", "20"]);
  assert.deepEqual(roundOrder(["20", "22", "24"], 2), ["24", "20", "22"]);
  assert.deepEqual(roundOrder(["20", "22", "24"], 3), ["20", "22", "24"]);
});

test("the section shows each version's median and range, and its ratio to the baseline", () => {
  const md = renderNodeVersions(record, "Node 22 is as fast as 20.").join("\n");
  assert.match(md, /^## Node\.js 20, 22 and 24$/m);
  assert.match(
    md,
    /\| scenario, figure \| Node 20 \| Node 22 \| Node 24 \| 22 \/ 20 \| 24 \/ 20 \|/,
  );
  assert.match(
    md,
    /\| \[Transient 16 B\]\(#node-versions-transient-16b\): delivered, msg\/s \(higher is better\) \| 110,000 \(100,000 to 120,000\) \| 121,000 \(90,000 to 130,000\) \| 99,000 \| 1\.10x \| 0\.900x \|/,
  );
  assert.match(
    md,
    /\| \[Transient 16 B\]\(#node-versions-transient-16b\): start, ms \(lower is better\) \| 300 \| 300 \| 300 \| 1\.00x \| 1\.00x \|/,
  );
  // Every figure of the scenario in its own table; one with no value in any run is left out.
  assert.match(
    md,
    /^\| start, ms \(lower is better\) \| 300 \| 300 \| 300 \| 1\.00x \| 1\.00x \|/m,
  );
  assert.doesNotMatch(md, /latency p99/);
  assert.match(md, /Node 22 is as fast as 20\./);
  assert.match(md, /- transient-16b, Node 24, round 2: a note/);
  assert.match(md, /Node v20\.20\.2, Node v22\.23\.3, Node v24\.21\.0/);
  assert.match(md, /3 rounds of 20 s per version/);
});

test("docs/benchmarks.md carries the Node.js section only when the comparison has run", () => {
  const base = {
    results: { scenarios: {} },
    order: [],
    observations: "",
    headlineMetric: {},
  };
  const without = renderReport(base);
  assert.doesNotMatch(without, /node-versions/);
  const withIt = renderReport({ ...base, nodeVersions: { record, observations: "" } });
  assert.match(withIt, /\[Node\.js versions\]\(#node-versions\)/);
  assert.match(withIt, /<a id="node-versions"><\/a>/);
  // Before "How to run", which stays last.
  assert.ok(withIt.indexOf("## Node.js 20, 22 and 24") < withIt.indexOf("## How to run"));
});
