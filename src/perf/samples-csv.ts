import type { Sample } from "./run-meter.js";

export const CSV_HEADER =
  "elapsed_s,sent_per_s,received_per_s,confirmed_per_s,nacked_per_s," +
  "latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_max_ms";

/** One line per sample; latency columns are empty for an interval with no timestamped message. */
export function samplesToCsv(samples: readonly Sample[]): string {
  const lines = [CSV_HEADER];
  for (const s of samples) {
    const l = s.latencyMs;
    lines.push(
      [
        s.elapsedS,
        Math.round(s.sentPerS),
        Math.round(s.receivedPerS),
        Math.round(s.confirmedPerS),
        Math.round(s.nackedPerS),
        l?.p50 ?? "",
        l?.p95 ?? "",
        l?.p99 ?? "",
        l?.max ?? "",
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
