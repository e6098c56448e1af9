import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HEADLINE, SCENARIOS } from "../scenarios/catalog.js";
import { loadNodeVersions } from "./node-versions-results.js";
import { renderReport } from "./report.js";
import { loadResults } from "./results.js";

/** Where the bench keeps its figures and writes its page, relative to the repository root. */
export const BENCH_PATHS = {
  results: "bench/results/latest.json",
  nodeVersions: "bench/results/node-versions.json",
  plots: "bench/results/plots",
  observations: "bench/observations.md",
  nodeVersionsObservations: "bench/node-versions-observations.md",
  report: "docs/benchmarks.md",
} as const;

function textOr(path: string, fallback: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : fallback;
}

/**
 * Rewrites docs/benchmarks.md from everything kept: the Warren / RabbitMQ results and the
 * Node.js versions comparison, each with its hand-written observations. Both benches call
 * this, so neither run loses the other's section.
 */
export function writeBenchmarksPage(repoRoot: string): string {
  const at = (rel: string) => join(repoRoot, rel);
  const nodeVersions = loadNodeVersions(at(BENCH_PATHS.nodeVersions));
  writeFileSync(
    at(BENCH_PATHS.report),
    renderReport({
      results: loadResults(at(BENCH_PATHS.results)),
      order: SCENARIOS.map((s) => s.id),
      observations: textOr(at(BENCH_PATHS.observations), "(no observations written yet)"),
      headlineMetric: HEADLINE,
      nodeVersions: nodeVersions && {
        record: nodeVersions,
        observations: textOr(at(BENCH_PATHS.nodeVersionsObservations), ""),
      },
    }),
  );
  return at(BENCH_PATHS.report);
}

/** Formats what the bench wrote with the project's formatter, so `npm test`'s lint stays clean. */
export function formatBenchOutputs(repoRoot: string): void {
  try {
    execFileSync(join(repoRoot, "node_modules/.bin/biome"), ["check", "--write", "bench/results"], {
      cwd: repoRoot,
      stdio: "ignore",
    });
  } catch {
    // Formatting is a courtesy; the figures are written either way.
  }
}
