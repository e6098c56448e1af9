#!/usr/bin/env node
// Runs the compiled test files under dist/test with node:test.
// Usage: node tools/run-tests.mjs [suite ...]   (suite = a folder under test/, e.g. unit, interop)
// Without a suite every test file runs. Build first (npm test does it through pretest).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "dist", "test");
if (!existsSync(root)) {
  console.error("dist/test is missing: run `npm run build` first");
  process.exit(2);
}

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const suites = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const extra = process.argv.slice(2).filter((a) => a.startsWith("-"));
const dirs = suites.length ? suites.map((s) => join(root, s)) : [root];
const files = dirs.flatMap((d) => (existsSync(d) ? collect(d, []) : []));
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(", ")}`);
  process.exit(2);
}
const concurrency = process.env.WARREN_TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  [
    "--test",
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${process.env.WARREN_TEST_TIMEOUT_MS ?? "120000"}`,
    "--test-reporter=spec",
    ...extra,
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
