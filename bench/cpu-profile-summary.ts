#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most
// self time, and the most inclusive time, with their share of the samples.
// Usage: node dist/bench/cpu-profile-summary.js FILE.cpuprofile [TOP=25]
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

interface FunctionTime {
  readonly name: string;
  readonly selfPct: number;
  readonly totalPct: number;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\/.*?\/dist\//, "").replace(/^node:/, "node:");
  const where = file ? ` ${file}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"}${where}`;
}

/** Self and inclusive time per function (merged over call sites), as % of sampled time. */
function summarise(profile: CpuProfile): FunctionTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    // Each function on the stack gets the sample once, however deep its recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  return [...inclusive.keys()].map((name) => ({
    name,
    selfPct: ((self.get(name) ?? 0) / total) * 100,
    totalPct: ((inclusive.get(name) ?? 0) / total) * 100,
  }));
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: cpu-profile-summary FILE.cpuprofile [TOP]\n");
    process.exit(64);
  }
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const rows = summarise(profile);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const print = (title: string, key: "selfPct" | "totalPct") => {
    process.stdout.write(`\n${title} (of ${seconds.toFixed(1)} s profiled)\n`);
    for (const r of [...rows].sort((a, b) => b[key] - a[key]).slice(0, top)) {
      process.stdout.write(`${r[key].toFixed(1).padStart(6)}%  ${r.name}\n`);
    }
  };
  print("self time", "selfPct");
  print("inclusive time", "totalPct");
}

main();
