import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { PerfSummary } from "../../src/perf/run-summary.js";
import { spawnTracked, stopProcess } from "./tracked-processes.js";

export interface LoadRun {
  readonly summary: PerfSummary;
  /** The process's exit code (1 when the run saw connection errors). */
  readonly exitCode: number;
}

/**
 * Runs `warren perf` in its own process (the brokers and the bench keep theirs), with
 * its progress lines passed on prefixed, and returns its JSON summary. The run is killed
 * if it overruns its duration by `graceMs`.
 */
export async function runLoadTool(
  repoRoot: string,
  args: string[],
  options: { prefix: string; timeoutMs: number; workDir: string; log: (line: string) => void },
): Promise<LoadRun> {
  const jsonPath = join(options.workDir, `perf-${process.pid}-${Date.now()}.json`);
  const child = spawnTracked(
    process.execPath,
    [join(repoRoot, "bin/warren.js"), "perf", ...args, "--json", jsonPath],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr = (stderr + t).slice(-8000);
    partial += t;
    for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
      options.log(`${options.prefix} ${partial.slice(0, nl)}`);
      partial = partial.slice(nl + 1);
    }
  });
  const exitCode = await new Promise<number>((resolve) => {
    const timer = setTimeout(() => {
      options.log(`${options.prefix} load tool overran ${options.timeoutMs} ms: stopping it`);
      void stopProcess(child, "SIGINT", 15_000);
    }, options.timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  let summary: PerfSummary;
  try {
    summary = JSON.parse(readFileSync(jsonPath, "utf8")) as PerfSummary;
  } catch {
    throw new Error(`warren perf ${args.join(" ")} gave no summary (exit ${exitCode}): ${stderr}`);
  } finally {
    rmSync(jsonPath, { force: true });
  }
  return { summary, exitCode };
}
