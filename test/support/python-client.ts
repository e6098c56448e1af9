import { join } from "node:path";
import { REPO_ROOT } from "./broker-process.js";
import { runProgram } from "./run-program.js";

/**
 * Debian's interpreter, which has python3-pika, python3-kombu, python3-amqp and
 * python3-oslo.messaging.
 */
export const PYTHON = "/usr/bin/python3";

/**
 * Runs one scenario of a script in test/interop/python/ and returns the JSON object
 * it printed last. A script that fails is an error carrying its stderr (the traceback).
 */
export async function runPythonScenario<T = Record<string, unknown>>(
  script: string,
  scenario: string,
  url: string,
  args: readonly string[] = [],
  timeoutMs = 20_000,
): Promise<T> {
  const path = join(REPO_ROOT, "test/interop/python", script);
  const run = await runProgram(PYTHON, [path, scenario, url, ...args], timeoutMs);
  if (run.exitCode !== 0) {
    throw new Error(`${script} ${scenario} exited with ${run.exitCode}:\n${run.stderr}`);
  }
  const last = run.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as T;
}
