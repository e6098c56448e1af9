#!/usr/bin/env node
// Runs the test suite (tools/run-tests.mjs) under each supported Node.js major version in turn.
// Usage: node tools/test-node-versions.mjs [--versions 20,22,24] [--throw-deprecation]
//                                          [--script FILE] [suite ...] [-node-test-flag ...]
// Build first (`npm run build`): the build stays on the default Node; only the tests change.
//
// Each version's binary comes from npm's `node` package (`npx -y node@22`), or is the running
// Node when its major matches. The suite is started with that binary, and every process the
// tests start with `process.execPath` (the brokers of test/support/broker-process.ts, warrenctl,
// warren perf) runs under it too; the directory of npm's binary goes first in PATH for anything
// that asks for `node` by name. Python, Go and Java clients are found as before. The versions run one after another (the suite has timing
// tests and the machine has 2 cores), every version runs even after one fails, and the exit
// status is 1 if any failed, with the versions that failed named on the last line.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";

const DEFAULT_VERSIONS = ["20", "22", "24"];

/** Our flags; everything else (suites, flags for node --test) goes on to the script. */
function parseCommandLine(argv) {
  const options = {
    versions: DEFAULT_VERSIONS,
    script: join(import.meta.dirname, "run-tests.mjs"),
    throwDeprecation: false,
  };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i] ?? "";
    if (name === "--versions")
      options.versions = value()
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
    else if (name === "--script") options.script = value();
    else if (name === "--throw-deprecation") options.throwDeprecation = true;
    else rest.push(argv[i]);
  }
  return { ...options, rest };
}

const options = parseCommandLine(process.argv.slice(2));
const bad = options.versions.filter((v) => !/^\d+$/.test(v));
if (bad.length > 0 || options.versions.length === 0) {
  console.error(`--versions takes major versions such as 20,22,24 (not "${bad.join(",")}")`);
  process.exit(2);
}

/** The binary for a major version: this Node if it matches, otherwise npm's `node@MAJOR`. */
function resolveNode(major) {
  if (process.versions.node.split(".")[0] === major) {
    return { path: process.execPath, version: process.version, fromNpm: false };
  }
  const r = spawnSync(
    "npx",
    ["-y", `node@${major}`, "-p", "process.execPath+' '+process.version"],
    {
      encoding: "utf8",
      timeout: 600_000,
    },
  );
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  const m = /^(\/\S+) (v\d+\.\d+\.\d+)$/.exec(line);
  if (r.status !== 0 || !m) {
    const why = r.error ? r.error.message : (r.stderr ?? "").trim().split("\n").slice(-3).join(" ");
    return { error: `could not get Node ${major} with \`npx -y node@${major}\`: ${why}` };
  }
  return { path: m[1], version: m[2], fromNpm: true };
}

function minutes(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

const outcomes = [];
for (const major of options.versions) {
  const node = resolveNode(major);
  if (node.error) {
    console.error(`\n=== Node ${major}: ${node.error}`);
    outcomes.push({ major, version: "?", ok: false, why: "no binary", ms: 0 });
    continue;
  }
  console.error(`\n=== Node ${major}: ${node.version} (${node.path})`);
  const env = { ...process.env };
  // npm's binary sits alone in its folder, so this changes `node` and nothing else.
  if (node.fromNpm) env.PATH = `${dirname(node.path)}:${env.PATH ?? ""}`;
  if (options.throwDeprecation) {
    // A deprecation becomes an exception in the runner, the tests and every broker they start:
    // what a later major removes is caught while it is still only deprecated.
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --throw-deprecation`.trim();
  }
  const startedAt = performance.now();
  const r = spawnSync(node.path, [options.script, ...options.rest], { stdio: "inherit", env });
  const ms = performance.now() - startedAt;
  const ok = r.status === 0;
  const why = ok ? "passed" : r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
  outcomes.push({ major, version: node.version, ok, why, ms });
  console.error(
    `=== Node ${major} (${node.version}): ${ok ? "passed" : `FAILED (${why})`} in ${minutes(ms)}`,
  );
}

console.error("\nTest suite by Node.js version:");
for (const o of outcomes) {
  console.error(
    `  Node ${o.major.padEnd(3)} ${o.version.padEnd(9)} ${(o.ok ? "passed" : `FAILED (${o.why})`).padEnd(24)} ${minutes(o.ms)}`,
  );
}
const failed = outcomes.filter((o) => !o.ok);
if (failed.length > 0) {
  console.error(
    `tests FAILED on ${failed.map((o) => `Node ${o.major} (${o.version})`).join(", ")}`,
  );
  process.exit(1);
}
console.error(`tests passed on ${outcomes.map((o) => `Node ${o.major}`).join(", ")}`);
