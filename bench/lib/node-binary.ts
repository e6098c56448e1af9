import { spawnSync } from "node:child_process";

export interface NodeBinary {
  readonly major: string;
  /** As process.version prints it: "v22.23.3". */
  readonly version: string;
  readonly path: string;
}

/**
 * The Node.js binary for a major version: this process's when the major matches, otherwise
 * the one npm's `node` package ships (`npx -y node@22`; the first use downloads it into npm's
 * cache). tools/test-node-versions.mjs finds the test suite's binaries the same way.
 */
export function nodeBinary(major: string): NodeBinary {
  if (process.versions.node.split(".")[0] === major)
    return { major, version: process.version, path: process.execPath };
  const r = spawnSync(
    "npx",
    ["-y", `node@${major}`, "-p", "process.execPath+' '+process.version"],
    {
      encoding: "utf8",
      timeout: 600_000,
    },
  );
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  const m = /^(\/\S+) (v\d+\.\d+\.\d+)$/.exec(line);
  if (r.status !== 0 || !m) {
    const why = r.error?.message ?? (r.stderr ?? "").trim().split("\n").slice(-3).join(" ");
    throw new Error(`could not get Node ${major} with \`npx -y node@${major}\`: ${why}`);
  }
  return { major, version: m[2]!, path: m[1]! };
}
