import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AmqpClient } from "../../../src/perf/amqp-client.js";
import type { PerfSummary } from "../../../src/perf/run-summary.js";
import { type BrokerUnderTest, REPO_ROOT, startBroker } from "../../support/broker-process.js";

/** Runs `bin/warren.js perf ...` and collects its output. */
function perf(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "bin/warren.js"), "perf", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      stdout += t;
    });
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      stderr += t;
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

let broker: BrokerUnderTest;
let dir: string;

before(async () => {
  broker = await startBroker();
  dir = mkdtempSync(join(tmpdir(), "warren-perf-test-"));
});

after(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a short run prints progress and a JSON summary and writes the CSV and the SVG", async () => {
  const csv = join(dir, "run.csv");
  const svg = join(dir, "run.svg");
  const json = join(dir, "run.json");
  const r = await perf([
    "--url",
    broker.url,
    "-z",
    "2.5",
    "-r",
    "500",
    "-a",
    "--queue-prefix",
    "cli-run",
    "--csv",
    csv,
    "--svg",
    svg,
    "--json",
    json,
    "--label",
    "cli test",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as PerfSummary;
  assert.deepEqual(summary, JSON.parse(readFileSync(json, "utf8")));
  assert.equal(summary.label, "cli test");
  assert.equal(summary.broker, broker.url.replace("guest@", "***@"));
  assert.ok(
    summary.sent >= 1150 && summary.sent <= 1300,
    `sent ${summary.sent} at 500/s for 2.5 s`,
  );
  assert.ok(summary.received > 0.9 * summary.sent, `received ${summary.received}`);
  assert.ok(summary.latencyMs && summary.latencyMs.p50 > 0 && summary.latencyMs.p99 < 1000);
  assert.deepEqual(summary.errors, []);
  assert.match(
    r.stderr,
    /^ {3}1s {2}sent +\d+\/s {2}received +\d+\/s {2}latency p50 [\d.]+ ms p99/m,
  );
  assert.equal(summary.samples.length, 3, "two whole seconds and the last half");
  assert.equal(readFileSync(csv, "utf8").trimEnd().split("\n").length, 4);
  assert.match(readFileSync(svg, "utf8"), /<polyline data-series="latency p99"/);
});

test("--count publishes exactly that many persistent messages, all confirmed, and --keep leaves them queued", async () => {
  const r = await perf([
    "--url",
    broker.url,
    "--count",
    "2000",
    "-c",
    "64",
    "-y",
    "0",
    "--persistent",
    "--durable",
    "--size",
    "1024",
    "--keep",
    "--queue-prefix",
    "cli-count",
    "-z",
    "60",
    "--quiet",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as PerfSummary;
  assert.equal(summary.sent, 2000);
  assert.equal(summary.confirmed, 2000);
  assert.equal(summary.nacked, 0);
  assert.ok(summary.confirmLatencyMs && summary.confirmLatencyMs.count === 2000);
  assert.equal(r.stderr, "", "--quiet prints no progress");
  const client = await AmqpClient.connect(broker.url);
  const ch = await client.openChannel();
  const ok = await ch.declareQueue("cli-count-1", { durable: true });
  assert.equal(ok.messageCount, 2000);
  await ch.deleteQueue("cli-count-1");
  await client.close();
});

test("fanout to three queues with multiple acks confirms every message and delivers each at most three times", async () => {
  const r = await perf([
    "--url",
    broker.url,
    "--count",
    "300",
    "-c",
    "100",
    "-y",
    "3",
    "--queues",
    "3",
    "--exchange",
    "fanout",
    "-q",
    "50",
    "--multi-ack-every",
    "10",
    "--queue-prefix",
    "cli-fan",
    "-z",
    "3",
    "--quiet",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as PerfSummary;
  assert.equal(summary.sent, 300);
  assert.equal(summary.confirmed, 300);
  assert.ok(summary.received > 0 && summary.received <= 900, `received ${summary.received}`);
});

test("a publish the broker refuses ends the run early with the broker's error", async () => {
  const started = Date.now();
  const r = await perf([
    "--url",
    broker.url,
    "--predeclared",
    "--queue-prefix",
    "missing",
    "-y",
    "0",
    "-z",
    "30",
    "--quiet",
  ]);
  assert.equal(r.code, 1);
  assert.ok(Date.now() - started < 15_000, "the run ended at the error, not after 30 s");
  const summary = JSON.parse(r.stdout) as PerfSummary;
  assert.match(
    summary.errors.join("\n"),
    /publisher 1: .*NOT_FOUND - no exchange 'missing-direct'/,
  );
});

test("consuming from a missing queue fails the setup with the broker's error", async () => {
  const r = await perf([
    "--url",
    broker.url,
    "--predeclared",
    "--queue-prefix",
    "missing",
    "-x",
    "0",
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NOT_FOUND - no queue 'missing-1'/);
});

test("a bad flag exits 64 with the usage text", async () => {
  const r = await perf(["--exchange", "topic"]);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /--exchange must be one of direct, fanout/);
  assert.match(r.stderr, /Usage: warren perf/);
});

test("an unreachable broker exits 1 with the reason", async () => {
  const r = await perf(["--url", "amqp://guest:guest@127.0.0.1:1", "-z", "1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ECONNREFUSED/);
  assert.doesNotMatch(r.stderr, /guest:guest/);
});
