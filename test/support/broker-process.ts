import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = new URL("../../../", import.meta.url).pathname;

export interface BrokerUnderTest {
  /** amqp://guest:guest@127.0.0.1:PORT */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The amqps port, when Warren was started with --tls-cert. */
  readonly tlsPort: number | undefined;
  /** Whether this is a real Warren process started by the test (not an external broker). */
  readonly isWarren: boolean;
  /** Log lines the process printed so far (JSON objects). */
  readonly logs: Record<string, unknown>[];
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** Waits until a log line matching the predicate appears (or times out). */
  waitForLog(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
  /** SIGKILL, for crash tests. */
  kill(): Promise<void>;
  readonly dataDir: string;
  readonly process: ChildProcess | undefined;
}

export interface StartOptions {
  readonly args?: string[];
  readonly env?: Record<string, string>;
  readonly dataDir?: string;
  /** Start under `ulimit -n` of this many open files. */
  readonly maxOpenFiles?: number;
}

/**
 * Starts a real Warren process on a free port with its own data folder and waits
 * for its "started" log line. With WARREN_TEST_BROKER_URL set, the tests run
 * against that broker instead (e.g. a RabbitMQ on a spare port) and nothing starts.
 */
export async function startBroker(options: StartOptions = {}): Promise<BrokerUnderTest> {
  const external = process.env.WARREN_TEST_BROKER_URL;
  if (external) {
    const u = new URL(external);
    return {
      url: external,
      host: u.hostname,
      port: Number(u.port || 5672),
      tlsPort: undefined,
      isWarren: false,
      logs: [],
      stderr: () => "",
      waitForLog: () => Promise.reject(new Error("no logs from an external broker")),
      stop: async () => {},
      kill: async () => {},
      dataDir: "",
      process: undefined,
    };
  }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "warren-test-"));
  const argv = [
    join(REPO_ROOT, "dist/src/cli/warren.js"),
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--data-dir",
    dataDir,
    ...(options.args ?? []),
  ];
  const env = { ...process.env, WARREN_LOG_LEVEL: "debug", ...options.env };
  const stdio: ["ignore", "pipe", "pipe"] = ["ignore", "pipe", "pipe"];
  const child =
    options.maxOpenFiles === undefined
      ? spawn(process.execPath, argv, { env, stdio })
      : spawn(
          "/bin/sh",
          ["-c", `ulimit -n ${options.maxOpenFiles} && exec "$0" "$@"`, process.execPath, ...argv],
          {
            env,
            stdio,
          },
        );
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    buffered += text;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = { msg: line };
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.pred(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr += t;
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  let started: Record<string, unknown>;
  try {
    started = await Promise.race([
      waitForLog((l) => typeof l.msg === "string" && l.msg.includes(" started on "), 30_000),
      exitPromise.then(() => {
        throw new Error(
          `warren exited during start: ${stderr}${logs.map((l) => JSON.stringify(l)).join("\n")}`,
        );
      }),
    ]);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  const port = (started.listeners as { port: number }[])[0]!.port;
  const stopWith = async (signal: NodeJS.Signals) => {
    if (!exited) child.kill(signal);
    await exitPromise;
  };
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    tlsPort: (started.tlsListeners as { port: number }[] | undefined)?.[0]?.port,
    isWarren: true,
    logs,
    stderr: () => stderr,
    waitForLog,
    stop: async () => {
      await stopWith("SIGTERM");
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    kill: () => stopWith("SIGKILL"),
    dataDir,
    process: child,
  };
}
