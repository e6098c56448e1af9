import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrokerStartOptions, RunningBroker } from "./broker.js";
import { freePort } from "./free-port.js";
import { rssBytes, treeCpuSeconds } from "./process-stats.js";
import { signalGroup, spawnTracked, stopProcess } from "./tracked-processes.js";

export interface WarrenStart {
  readonly broker: RunningBroker;
  /** Milliseconds from spawn to the " started on " log line. */
  readonly startMs: number;
  /** Every JSON log line printed up to the start line. */
  readonly startLogs: Record<string, unknown>[];
}

/**
 * Starts `node dist/src/cli/warren.js` (the build under test) on a free port and waits
 * for its " started on " line, as test/support/broker-process.ts does, but with info
 * logging (debug logs would cost the broker time under load).
 */
export async function startWarren(
  repoRoot: string,
  workDir: string,
  options: BrokerStartOptions = {},
): Promise<WarrenStart> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? join(workDir, `warren-${port}`);
  mkdirSync(dataDir, { recursive: true });
  const spawnedAt = performance.now();
  const child = spawnTracked(
    options.node ?? process.execPath,
    [
      join(repoRoot, "dist/src/cli/warren.js"),
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--data-dir",
      dataDir,
      "--log-level",
      "info",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } },
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr = (stderr + t).slice(-4000);
  });
  const started = new Promise<number>((resolve, reject) => {
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      buffered += text;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = { msg: line };
        }
        if (logs.length < 1000) logs.push(parsed);
        if (typeof parsed.msg === "string" && parsed.msg.includes(" started on ")) {
          resolve(performance.now() - spawnedAt);
        }
      }
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`warren exited during start (${code ?? signal}): ${stderr}`)),
    );
  });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let startMs: number;
  try {
    startMs = await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`warren did not start within ${timeoutMs} ms: ${stderr}`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (e) {
    signalGroup(child, "SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const pid = child.pid!;
  const broker: RunningBroker = {
    kind: "warren",
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    dataDir,
    pid,
    rssBytes: () => rssBytes(pid),
    cpuSeconds: () => treeCpuSeconds(pid),
    stop: () => stopProcess(child, "SIGTERM", 30_000),
    kill: () => stopProcess(child, "SIGKILL", 10_000),
  };
  return { broker, startMs, startLogs: logs };
}
