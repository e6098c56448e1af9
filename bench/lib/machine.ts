import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { erlangVersion, rabbitmqInstalled, rabbitmqVersion } from "./rabbitmq-broker.js";
import type { MachineInfo } from "./results.js";

/** The commit under test, with "+changes" when tracked files differ from it. */
export function warrenCommit(repoRoot: string): string {
  try {
    let commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: repoRoot,
    }).toString();
    if (dirty.trim()) commit += "+changes";
    return commit;
  } catch {
    return "unknown"; // not a git checkout
  }
}

/** What a figure was measured on, for the report's "Machine:" lines. */
export function machineInfo(repoRoot: string): MachineInfo {
  let osName = os.type();
  try {
    osName =
      /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? osName;
  } catch {
    // keep os.type()
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: os.release(),
    os: osName,
    node: process.version,
    warrenCommit: warrenCommit(repoRoot),
    rabbitmq: rabbitmqInstalled() ? rabbitmqVersion() : undefined,
    erlang: rabbitmqInstalled() ? erlangVersion() : undefined,
  };
}
