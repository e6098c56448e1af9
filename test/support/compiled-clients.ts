import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./broker-process.js";
import { runProgram } from "./run-program.js";

// The Go and Java clients the interop suite runs, from Debian's packages (.ci/run installs
// them). Each test file compiles its scenario program once into a temporary folder.

/** Debian's Go toolchain (golang-go) and amqp091-go's sources (golang-github-rabbitmq-amqp091-go-dev). */
export const GO = "/usr/bin/go";
export const GOPATH = "/usr/share/gocode";
const AMQP091_GO = join(GOPATH, "src/github.com/rabbitmq/amqp091-go");

/** Debian's JDK (default-jdk-headless) and the RabbitMQ Java client (librabbitmq-client-java). */
export const JAVAC = "/usr/bin/javac";
export const JAVA = "/usr/bin/java";
const JAVA_CLASSPATH = [
  "/usr/share/java/amqp-client.jar",
  "/usr/share/java/slf4j-api.jar", // libslf4j-java, which the client logs through
  "/usr/share/java/slf4j-nop.jar",
];

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

/** Compiles test/interop/java/WarrenScenarios.java against Debian's RabbitMQ Java client 5.0.0. */
export async function buildJavaScenarios(): Promise<CompiledClient> {
  requirePaths(
    "Java with the RabbitMQ Java client",
    "default-jdk-headless librabbitmq-client-java",
    [JAVAC, JAVA, ...JAVA_CLASSPATH],
  );
  return build("java-client", async (dir) => {
    const source = join(REPO_ROOT, "test/interop/java/WarrenScenarios.java");
    const classpath = JAVA_CLASSPATH.join(":");
    await mustSucceed("javac", JAVAC, ["-d", dir, "-cp", classpath, source]);
    // C1 only and the serial collector: short runs start faster and share two cores better.
    const jvm = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];
    return { file: JAVA, args: [...jvm, "-cp", `${dir}:${classpath}`, "WarrenScenarios"] };
  });
}
