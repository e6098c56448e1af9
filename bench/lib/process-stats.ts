import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/PID/stat times (CLK_TCK, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

/** VmRSS of one process in bytes, from /proc/PID/status; 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The pid and its descendants (found through each process's parent in /proc/PID/stat). */
export function processTree(rootPid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) parentOf.set(Number(name), stat.ppid);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** RSS of a process and its descendants (RabbitMQ: the shell, beam.smp, erl_child_setup...). */
export function treeRssBytes(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + rssBytes(pid), 0);
}

/** User + system CPU seconds used so far by a process and its descendants. */
export function treeCpuSeconds(rootPid: number): number {
  let ticks = 0;
  for (const pid of processTree(rootPid)) {
    const stat = readStat(pid);
    if (stat) ticks += stat.utime + stat.stime;
  }
  return ticks / CLOCK_TICKS_PER_S;
}

/** The command name of a process (beam.smp, node...). */
export function commandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readStat(pid: number): { ppid: number; utime: number; stime: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state(0) ppid(1) ... utime(11) stime(12), per proc(5).
  return { ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
}
