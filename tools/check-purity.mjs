#!/usr/bin/env node
// The part of the purity rule biome cannot say: the pure cores read no clock and draw no
// random number through globals (Date.now(), new Date() without an argument, Math.random(),
// performance.now()). biome.json forbids their I/O, timer and crypto imports and the layer
// back-edges; this forbids the rest. Time enters as nowMs, a tick or an injected clock;
// randomness through raft's options.random or the broker's sources (vhost/broker-sources.ts).
// Usage: node tools/check-purity.mjs [FILE ...]   (default: every pure core under src/)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
/** Folders whose every file is pure, and folders whose top-level files are. */
const PURE_TREES = [
  "protocol",
  "raft",
  "message",
  "routing",
  "queue",
  "vhost",
  "connection",
  "doctor",
  "quorum",
];
const PURE_TOP_LEVEL = ["cluster"];
const FORBIDDEN = [
  [/\bDate\.now\b/, "Date.now: take nowMs as an argument or use the injected clock"],
  [/\bnew Date\(\s*\)/, "new Date(): take nowMs as an argument or use the injected clock"],
  [/\bMath\.random\b/, "Math.random: use the injected random source"],
  [/\bperformance\.now\b/, "performance.now: time is the runtime's"],
];

function tsFiles(dir, deep) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (deep) out.push(...tsFiles(path, deep));
    } else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** The code of a line without its // comment (a good enough cut: no // inside our strings here). */
function code(line) {
  const trimmed = line.trimStart();
  if (trimmed.startsWith("*") || trimmed.startsWith("/*") || trimmed.startsWith("//")) return "";
  const at = line.indexOf("//");
  return at >= 0 ? line.slice(0, at) : line;
}

const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : [
        ...PURE_TREES.flatMap((d) => tsFiles(join(root, "src", d), true)),
        ...PURE_TOP_LEVEL.flatMap((d) => tsFiles(join(root, "src", d), false)),
      ];
let problems = 0;
for (const file of files) {
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      for (const [pattern, why] of FORBIDDEN) {
        if (pattern.test(code(line))) {
          problems++;
          console.error(`${relative(root, file)}:${i + 1}: ${why}`);
        }
      }
    });
}
if (problems > 0) {
  console.error(`${problems} impure call(s) in the pure cores (see docs/ARCHITECTURE.md, Layers)`);
  process.exit(1);
}
