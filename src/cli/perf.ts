#!/usr/bin/env node
import { writeFileSync } from "node:fs";
import { PERF_USAGE, parsePerfArgs, redactUrl, UsageError } from "../perf/perf-options.js";
import { runPerf } from "../perf/perf-run.js";
import { samplesToCsv } from "../perf/samples-csv.js";
import { renderPlot } from "../perf/svg-plot.js";

/** `warren perf [options]`: the load generator. Exit codes: 0 ok, 1 run failed, 64 bad usage. */
async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parsePerfArgs>;
  try {
    options = parsePerfArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`warren perf: ${e.message}\n\n${PERF_USAGE}`);
    return 64;
  }
  if (options === "help") {
    process.stdout.write(PERF_USAGE);
    return 0;
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let summary: Awaited<ReturnType<typeof runPerf>>;
  try {
    summary = await runPerf(options, {
      progress: (line) => process.stderr.write(`${line}\n`),
      signal: abort.signal,
    });
  } catch (e) {
    process.stderr.write(`warren perf: ${redactUrl(options.url)}: ${(e as Error).message}\n`);
    return 1;
  }
  const json = JSON.stringify(summary, null, 2);
  if (options.jsonPath) writeFileSync(options.jsonPath, `${json}\n`);
  if (options.csvPath) writeFileSync(options.csvPath, samplesToCsv(summary.samples));
  if (options.svgPath) {
    const title = `${options.label ?? "warren perf"}: ${summary.broker}, ${summary.startedAt}`;
    writeFileSync(options.svgPath, renderPlot(summary.samples, title));
  }
  process.stdout.write(`${json}\n`);
  for (const e of summary.errors) process.stderr.write(`warren perf: ${e}\n`);
  return summary.errors.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`warren perf: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
