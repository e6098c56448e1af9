import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";

/**
 * Every process the bench starts, so that all of them are stopped at the end, even on
 * an error or Ctrl-C. Each runs in its own process group (detached), so a signal to the
 * group also reaches what it started (RabbitMQ's shell starts beam.smp, which starts
 * erl_child_setup).
 */
const live = new Set<ChildProcess>();

/** The open-files limit asked for children: 10,000 connections need more than 1,024. */
export const OPEN_FILES_LIMIT = 65536;

/**
 * Spawns through `sh -c 'ulimit -n N; exec "$@"'`, raising the open-files limit where
 * the hard limit (or root) allows and keeping the soft limit otherwise.
 */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const script = `ulimit -n ${OPEN_FILES_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$@"`;
  const child = spawn("/bin/sh", ["-c", script, "sh", command, ...args], {
    ...options,
    detached: true,
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Signals the child's whole process group. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

export function exited(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Sends `signal` (to `pid`, or to the group), waits up to timeoutMs for the child to
 * exit, then kills its group. Resolves once the child is gone.
 */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals,
  timeoutMs: number,
  pid?: number,
): Promise<void> {
  if (isRunning(child)) {
    if (pid !== undefined) {
      try {
        process.kill(pid, signal);
      } catch {
        signalGroup(child, signal);
      }
    } else signalGroup(child, signal);
  }
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      signalGroup(child, "SIGKILL");
      resolve();
    }, timeoutMs);
  });
  await Promise.race([exited(child), killed]);
  clearTimeout(timer);
  await exited(child);
  // Whatever the group left behind (an orphaned grandchild) goes too.
  signalGroup(child, "SIGKILL");
}

const cleanups: (() => void)[] = [];

/** Something to undo on any exit (a scratch folder), after the processes are killed. */
export function onExitCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** Kills every tracked process group at once, then runs the cleanups (exit path). */
export function killAllTracked(): void {
  for (const child of live) signalGroup(child, "SIGKILL");
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // best effort on the way out
    }
  }
}

let hooked = false;

/** Makes sure nothing the bench started outlives it. */
export function killTrackedOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAllTracked);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      killAllTracked();
      process.exit(130);
    });
  }
}
