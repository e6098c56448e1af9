import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO_ROOT } from "../../support/broker-process.js";

// tools/test-node-versions.mjs is what CI runs: the suite once per Node major version. These
// tests give it a stand-in suite (--script) and the running Node's own major, so nothing is
// downloaded; the npm binaries themselves are exercised by CI's real runs.
const RUNNER = join(REPO_ROOT, "tools/test-node-versions.mjs");
const MAJOR = process.versions.node.split(".")[0]!;

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "warren-node-versions-"));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A stand-in suite: records each run (Node version and arguments), fails the runs listed. */
function standIn(name: string, failRuns: number[]): string {
  const path = join(dir, `${name}.mjs`);
  const log = join(dir, `${name}.log`);
  writeFileSync(
    path,
    [
      'import { appendFileSync, existsSync, readFileSync } from "node:fs";',
      `const log = ${JSON.stringify(log)};`,
      'const run = existsSync(log) ? readFileSync(log, "utf8").split("\\n").filter(Boolean).length + 1 : 1;',
      "appendFileSync(log, JSON.stringify({ run, version: process.version, args: process.argv.slice(2) }) + '\\n');",
      `process.exit(${JSON.stringify(failRuns)}.includes(run) ? 1 : 0);`,
    ].join("\n"),
  );
  return path;
}

function runsOf(name: string): { run: number; version: string; args: string[] }[] {
  const log = join(dir, `${name}.log`);
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function runner(args: string[]) {
  // CI runs these tests under the runner's own --throw-deprecation: start each from a clean slate.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, [RUNNER, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env,
  });
}

test("a suite that fails on one version fails the run and names that version", () => {
  const script = standIn("fails-first", [1]);
  const r = runner(["--versions", `${MAJOR},${MAJOR}`, "--script", script]);
  assert.equal(r.status, 1, r.stderr);
  // Every version runs even after one failed: CI reports all of them at once.
  assert.equal(runsOf("fails-first").length, 2);
  assert.match(
    r.stderr,
    new RegExp(`tests FAILED on Node ${MAJOR} \\(${process.version}\\)$`, "m"),
  );
  assert.match(r.stderr, new RegExp(`Node ${MAJOR} +${process.version} +FAILED \\(exit 1\\)`));
  assert.match(r.stderr, new RegExp(`Node ${MAJOR} +${process.version} +passed`));
});

test("a suite that passes on every version passes the run", () => {
  const script = standIn("passes", []);
  const r = runner([`--versions=${MAJOR}`, "--script", script]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`tests passed on Node ${MAJOR}$`, "m"));
  assert.deepEqual(
    runsOf("passes").map((x) => x.version),
    [process.version],
  );
});

test("suites and node --test flags pass on to the suite unchanged", () => {
  const script = standIn("args", []);
  const r = runner([
    "unit",
    "--versions",
    MAJOR,
    "--test-name-pattern=x",
    "--script",
    script,
    "interop",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(runsOf("args")[0]?.args, ["unit", "--test-name-pattern=x", "interop"]);
});

test("--throw-deprecation makes a deprecation fail the suite", () => {
  const path = join(dir, "deprecated.mjs");
  // DEP0005: the Buffer() constructor, deprecated in every supported version.
  writeFileSync(path, 'process.emitWarning("old", "DeprecationWarning", "DEP0005");');
  assert.equal(runner(["--versions", MAJOR, "--script", path]).status, 0);
  const r = runner(["--versions", MAJOR, "--script", path, "--throw-deprecation"]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /DeprecationWarning: old/);
});

test("a version that is not a major number is refused before anything runs", () => {
  const script = standIn("refused", []);
  const r = runner(["--versions", "22.1", "--script", script]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--versions takes major versions such as 20,22,24/);
  assert.equal(runsOf("refused").length, 0);
});
