import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GO, GOPATH } from "./compiled-clients.js";

// amqp091-go's own test suite, integration tests included (`go test -tags integration`),
// from Debian's golang-github-rabbitmq-amqp091-go-dev: the tests RabbitMQ's Go client runs
// against RabbitMQ, run unchanged against the broker at AMQP_URL. Offline: GOPATH mode over
// a copy of the package (its sources are read-only) and Debian's goleak, no module proxy.

const PACKAGE = "github.com/rabbitmq/amqp091-go";

/** What one run of the suite gave. */
export interface GoSuiteResult {
  readonly passed: string[];
  readonly failed: string[];
  readonly skipped: string[];
  /** The panic that stopped the run ("panic: ..." and the test it was in), if one did. */
  readonly panic: string | undefined;
  /** goleak's verdict after the tests: goroutines (connections) the tests left running. */
  readonly leakedGoroutines: number;
  readonly exitCode: number;
  readonly durationMs: number;
  /** The whole `go test -v` output. */
  readonly output: string;
}

/** Fails, naming the packages to install, when Go or the client's sources are missing. */
export function goSuiteMissing(): string | undefined {
  const sources = join(GOPATH, "src", PACKAGE);
  const goleak = join(GOPATH, "src/go.uber.org/goleak");
  const missing = [GO, sources, goleak].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `missing ${missing.join(", ")}: apt-get install --no-install-recommends golang-go golang-github-rabbitmq-amqp091-go-dev (see .ci/run)`;
}

/**
 * Runs amqp091-go's whole test suite against `amqpUrl` and sorts the tests by outcome.
 * Nothing is downloaded; the copy and the build cache live in a temporary folder.
 */
export async function runGoClientSuite(
  amqpUrl: string,
  timeoutMs = 300_000,
): Promise<GoSuiteResult> {
  const why = goSuiteMissing();
  if (why) throw new Error(`amqp091-go's test suite cannot run: ${why}`);
  const work = mkdtempSync(join(tmpdir(), "warren-go-suite-"));
  try {
    const dir = join(work, "src", PACKAGE);
    mkdirSync(join(dir, ".."), { recursive: true });
    cpSync(join(GOPATH, "src", PACKAGE), dir, { recursive: true });
    const env = {
      ...process.env,
      AMQP_URL: amqpUrl,
      GO111MODULE: "off",
      GOPATH: `${work}:${GOPATH}`,
      GOCACHE: join(work, "cache"),
      GOENV: "off",
      GOFLAGS: "",
      GOPROXY: "off",
      GOTOOLCHAIN: "local",
    };
    const started = Date.now();
    const { output, exitCode } = await run(
      GO,
      ["test", "-tags", "integration", "-count=1", "-v", "."],
      dir,
      env,
      timeoutMs,
    );
    return { ...parse(output), exitCode, durationMs: Date.now() - started, output };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Sorts `go test -v` output: top-level `--- PASS/FAIL/SKIP` lines, a panic, goleak's report. */
export function parse(output: string): Omit<GoSuiteResult, "exitCode" | "durationMs" | "output"> {
  const passed: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  const lists = { PASS: passed, FAIL: failed, SKIP: skipped } as const;
  for (const m of output.matchAll(/^--- (PASS|FAIL|SKIP): (\S+)/gm)) {
    lists[m[1] as keyof typeof lists].push(m[2]!);
  }
  const panicLine = /^panic: .*$/m.exec(output)?.[0];
  const running = [...output.matchAll(/^=== RUN\s+(\S+)/gm)].map((m) => m[1]!);
  const leaked = output.includes("goleak: Errors")
    ? (output.match(/^ ?\[?Goroutine \d+ in state/gm) ?? []).length
    : 0;
  return {
    passed,
    failed,
    skipped,
    panic: panicLine && `${panicLine} (in ${running.at(-1) ?? "?"})`,
    leakedGoroutines: leaked,
  };
}

function run(
  file: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ output: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      output += t;
    });
    child.stderr.setEncoding("utf8").on("data", (t: string) => {
      output += t;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`go test did not finish within ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ output, exitCode: code ?? 1 });
    });
  });
}
