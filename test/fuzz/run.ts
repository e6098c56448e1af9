/**
 * The long fuzz campaign from the command line:
 *   npm run fuzz -- --count 1000000 [--seed N] [--findings DIR]
 *   npm run fuzz -- --replay DIR/finding-123.amqp
 * Prints progress every 50,000 inputs and a JSON summary; writes each input that broke
 * a rule to the findings folder (default fuzz-findings/) and exits 1 if there was one.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Prng } from "../sim/prng.js";
import { runCampaign } from "./fuzz-campaign.js";
import { loadCorpus } from "./fuzz-corpus.js";
import { FuzzTarget } from "./fuzz-target.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000000" },
    seed: { type: "string" },
    findings: { type: "string", default: "fuzz-findings" },
    replay: { type: "string" },
  },
});

if (values.replay) {
  const verdict = await new FuzzTarget().run(readFileSync(values.replay), new Prng(1));
  console.log(JSON.stringify(verdict, null, 2));
  process.exit(verdict.violations.length ? 1 : 0);
}

const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
const count = Number(values.count);
if (!Number.isInteger(count) || count <= 0) {
  console.error(`--count must be a positive integer, not ${values.count}`);
  process.exit(2);
}
const corpus = loadCorpus();
console.log(`fuzzing ${count} inputs, seed ${seed}, corpus of ${corpus.length} recorded sessions`);
const result = await runCampaign({
  count,
  seed,
  corpus,
  progressEvery: 50_000,
  onFinding: (f) => {
    mkdirSync(values.findings, { recursive: true });
    const path = join(values.findings, `finding-${f.index}.amqp`);
    writeFileSync(path, f.input);
    console.error(`input ${f.index} (${f.source}) -> ${path}\n  ${f.violations.join("\n  ")}`);
  },
  progress: (done, r) =>
    console.log(
      `${done} inputs, ${Math.round((done * 1000) / r.elapsedMs)}/s, ${r.findings.length} findings`,
    ),
});
console.log(
  JSON.stringify(
    {
      ...result,
      inputsPerSecond: Math.round((result.inputs * 1000) / result.elapsedMs),
      findings: result.findings.map((f) => ({
        index: f.index,
        source: f.source,
        violations: f.violations,
      })),
    },
    null,
    2,
  ),
);
process.exit(result.findings.length ? 1 : 0);
