import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";

const root = join(import.meta.dirname, "..", "..", "..", "..");
const biome = join(root, "node_modules", ".bin", "biome");

/**
 * What `npm run lint`'s biome says of `source` at `path`: the file is written under a
 * scratch copy of the checkout's layout with the project's biome.json, so the real
 * src/ never holds a probe.
 */
function biomeLint(path: string, source: string): { ok: boolean; output: string } {
  const scratch = mkdtempSync(join(tmpdir(), "warren-lint-"));
  const config = JSON.parse(readFileSync(join(root, "biome.json"), "utf8"));
  config.vcs = { enabled: false };
  config.files.includes = ["**"];
  writeFileSync(join(scratch, "biome.json"), JSON.stringify(config));
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(join(scratch, path), source);
  const r = spawnSync(biome, ["lint", "--max-diagnostics=50", path], {
    cwd: scratch,
    encoding: "utf8",
  });
  rmSync(scratch, { recursive: true, force: true });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}

test("a pure core that imports I/O, random bytes or a higher layer, or sets a timer, fails the lint", () => {
  const cases: [string, string, RegExp][] = [
    [
      "src/routing/probe.ts",
      'import { readFileSync } from "node:fs";\nexport const f = readFileSync;\n',
      /no I\/O/,
    ],
    [
      "src/queue/probe.ts",
      'import { connect } from "node:net";\nexport const f = connect;\n',
      /no I\/O/,
    ],
    [
      "src/raft/probe.ts",
      'import { randomInt } from "node:crypto";\nexport const f = randomInt;\n',
      /injected/,
    ],
    ["src/protocol/probe.ts", "export const f = () => setTimeout(() => {}, 1);\n", /setTimeout/],
    [
      "src/routing/probe.ts",
      'import type { Broker } from "../vhost/broker.js";\nexport type B = Broker;\n',
      /below these folders/,
    ],
    [
      "src/store/probe.ts",
      'import type { Queue } from "../queue/queue-type.js";\nexport type Q = Queue;\n',
      /I\/O edge below/,
    ],
    [
      "src/vhost/commands/probe.ts",
      'import type { Channel } from "../../connection/channel.js";\nexport type C = Channel;\n',
      /below these folders/,
    ],
    [
      "src/connection/probe.ts",
      'import { randomBytes } from "node:crypto";\nexport const f = randomBytes;\n',
      /injected sources/,
    ],
    [
      "src/cluster/probe.ts",
      'import type { Broker } from "../vhost/broker.js";\nexport type B = Broker;\n',
      /src\/raft and the src\/store/,
    ],
  ];
  for (const [path, source, reason] of cases) {
    const r = biomeLint(path, source);
    assert.equal(r.ok, false, `${path} passed the lint:\n${source}`);
    assert.match(r.output, reason, path);
  }
});

test("what the cores may do passes: a hash in vhost, a layer below, I/O in the runtime and the store", () => {
  const cases: [string, string][] = [
    [
      "src/vhost/probe.ts",
      'import { createHash } from "node:crypto";\nexport const f = createHash;\n',
    ],
    [
      "src/connection/probe.ts",
      'import type { Broker } from "../vhost/broker.js";\nexport type B = Broker;\n',
    ],
    ["src/store/probe.ts", 'import { openSync } from "node:fs";\nexport const f = openSync;\n'],
    [
      "src/runtime/probe.ts",
      'import { connect } from "node:net";\nexport const f = () => setTimeout(connect, 1);\n',
    ],
    [
      "src/cluster/transport/probe.ts",
      'import { connect } from "node:net";\nexport const f = connect;\n',
    ],
  ];
  for (const [path, source] of cases) {
    const r = biomeLint(path, source);
    assert.equal(r.ok, true, `${path} failed the lint:\n${r.output}`);
  }
});

test("a clock or random read through a global in a pure core fails the purity check", () => {
  const dir = mkdtempSync(join(tmpdir(), "warren-purity-"));
  const check = (source: string) => {
    const file = join(dir, "probe.ts");
    writeFileSync(file, source);
    return spawnSync(process.execPath, [join(root, "tools", "check-purity.mjs"), file], {
      encoding: "utf8",
    });
  };
  for (const source of [
    "export const t = Date.now();\n",
    "export const d = new Date();\n",
    "export const r = Math.random();\n",
    "export const p = performance.now();\n",
  ]) {
    const r = check(source);
    assert.equal(r.status, 1, source);
    assert.match(r.stderr, /impure call/);
  }
  const fine = check("// Date.now() is the runtime's\nexport const d = new Date(0);\n");
  assert.equal(fine.status, 0, fine.stderr);
});
