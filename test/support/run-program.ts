import { execFile } from "node:child_process";

/** What a script printed and how it ended. */
export interface ScriptRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/**
 * Runs a program with a hard time limit; never rejects on a non-zero exit. The
 * environment is this process's unless `env` is given.
 */
export function runProgram(
  file: string,
  args: readonly string[],
  timeoutMs = 20_000,
  env?: NodeJS.ProcessEnv,
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, killSignal: "SIGKILL" as const, env };
    execFile(file, args, options, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) {
        reject(new Error(`${file} ${args.join(" ")} timed out after ${timeoutMs} ms: ${stderr}`));
        return;
      }
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ stdout, stderr, exitCode: Number.isNaN(code) ? 1 : code });
    });
  });
}
