import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./broker-process.js";
import { runProgram } from "./run-program.js";

// The compiled clients the interop suite runs, from Debian's packages (.ci/run installs
// them). Each test file compiles its scenario program once into a temporary folder.

/** Debian's Go toolchain (golang-go) and amqp091-go's sources (golang-github-rabbitmq-amqp091-go-dev). */
export const GO = "/usr/bin/go";
export const GOPATH = "/usr/share/gocode";
const AMQP091_GO = join(GOPATH, "src/github.com/rabbitmq/amqp091-go");

const BUILD_TIMEOUT_MS = 180_000;

/** A scenario program built for this test file. */
export interface CompiledClient {
  /** Runs one scenario against the broker and returns the JSON object it printed last. */
  run<T = Record<string, unknown>>(scenario: string, url: string, timeoutMs?: number): Promise<T>;
  /** How long the build took. */
  readonly buildMs: number;
  dispose(): void;
}

/** Fails, naming the packages to install, when one of these paths is missing. */
function requirePaths(what: string, packages: string, paths: readonly string[]): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `${what} is not installed (missing ${missing.join(", ")}): ` +
        `apt-get install --no-install-recommends ${packages} (see .ci/run)`,
    );
  }
}

async function build(
  label: string,
  compile: (dir: string) => Promise<{ file: string; args: string[] }>,
): Promise<CompiledClient> {
  const dir = mkdtempSync(join(tmpdir(), `warren-${label}-`));
  const started = Date.now();
  let command: { file: string; args: string[] };
  try {
    command = await compile(dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    buildMs: Date.now() - started,
    async run<T>(scenario: string, url: string, timeoutMs = 30_000): Promise<T> {
      const r = await runProgram(command.file, [...command.args, scenario, url], timeoutMs);
      if (r.exitCode !== 0) {
        throw new Error(`${label} ${scenario} exited with ${r.exitCode}:\n${r.stderr}${r.stdout}`);
      }
      const last = r.stdout.trim().split("\n").pop() ?? "";
      return JSON.parse(last) as T;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function mustSucceed(
  what: string,
  file: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  const r = await runProgram(file, args, BUILD_TIMEOUT_MS, env);
  if (r.exitCode !== 0) throw new Error(`${what} failed (${r.exitCode}):\n${r.stderr}${r.stdout}`);
}

/**
 * Builds test/interop/go/scenarios.go against Debian's amqp091-go 1.5.0, offline: GOPATH
 * mode over /usr/share/gocode (a go.mod would want the library's test dependencies from
 * the module proxy), no proxy, a private build cache.
 */
export async function buildGoScenarios(): Promise<CompiledClient> {
  requirePaths("Go with amqp091-go", "golang-go golang-github-rabbitmq-amqp091-go-dev", [
    GO,
    AMQP091_GO,
  ]);
  return build("go-client", async (dir) => {
    const binary = join(dir, "scenarios");
    const env = {
      ...process.env,
      GO111MODULE: "off",
      GOPATH,
      GOCACHE: join(dir, "cache"),
      GOENV: "off",
      GOFLAGS: "",
      GOPROXY: "off",
      GOTOOLCHAIN: "local",
    };
    const source = join(REPO_ROOT, "test/interop/go/scenarios.go");
    await mustSucceed("go build", GO, ["build", "-o", binary, source], env);
    return { file: binary, args: [] };
  });
}
