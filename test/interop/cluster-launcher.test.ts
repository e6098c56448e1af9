import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import amqp from "amqplib";
import { REPO_ROOT } from "../support/broker-process.js";
import { warrenOnly } from "../support/warren-only.js";

// npm run cluster (tools/cluster.mjs): N real Warren processes on consecutive ports,
// one shared secret, their logs prefixed, Ctrl-C stops them all.

const skip = warrenOnly("starts its own Warren processes");
const NODES = 3;
const root = mkdtempSync(join(tmpdir(), "warren-cluster-launcher-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** Every port the launcher would use for base port `base`. */
function portsFor(base: number): number[] {
  const amqpPorts = Array.from({ length: NODES }, (_, i) => base + i);
  return amqpPorts.flatMap((p) => [p, p + 10000, p + 10020, p + 20000]);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

/** A base port below the ephemeral range whose twelve ports are all free now. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    const free = await Promise.all(portsFor(base).map(isFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error("no free base port found in 50 tries");
}

interface Launcher {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

function launch(args: string[]): Launcher {
  // Its own process group, so that the test can kill everything it started if it fails.
  const child = spawn(process.execPath, [join(REPO_ROOT, "tools/cluster.mjs"), ...args], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: string) => {
    text += chunk;
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    child,
    exited,
    output: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(text)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

function killGroup(launcher: Launcher): void {
  try {
    process.kill(-launcher.child.pid!, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200, url);
  return res.json();
}

test("three nodes start on consecutive ports, answer AMQP and HTTP, and a SIGINT to the launcher stops them all", {
  skip,
  timeout: 120_000,
}, async () => {
  const base = await freeBasePort();
  const dataRoot = join(root, "three");
  const launcher = launch([
    "--nodes",
    String(NODES),
    "--base-port",
    String(base),
    "--data-root",
    dataRoot,
    "--host",
    "127.0.0.1",
    "--stop-timeout",
    "10",
  ]);
  const pids: number[] = [];
  try {
    await launcher.waitFor(/Warren cluster of 3 nodes is up/, 60_000);
    const names = ["warren-1@127.0.0.1", "warren-2@127.0.0.1", "warren-3@127.0.0.1"];
    const clusterNodes = names.map((n, i) => `${n}:${base + 20000 + i}`).join(", ");
    for (const [i, name] of names.entries()) {
      // The table says how to reach it.
      assert.match(
        launcher.output(),
        new RegExp(
          `${name} +amqp://guest:guest@127\\.0\\.0\\.1:${base + i} +http://127\\.0\\.0\\.1:${base + 10000 + i} +${base + 20000 + i} +${join(dataRoot, `node${i + 1}`)}`,
        ),
      );
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${base + i}`);
      try {
        const ch = await conn.createChannel();
        const q = await ch.assertQueue("", { exclusive: true });
        assert.match(q.queue, /^amq\.gen-/);
        // list_queues' node column as the API gives it: the node's configured name.
        const view = (await getJson(
          `http://127.0.0.1:${base + 10000 + i}/api/queues/%2F/${encodeURIComponent(q.queue)}`,
        )) as { node: string };
        assert.equal(view.node, name);
      } finally {
        await conn.close();
      }
      const overview = (await getJson(`http://127.0.0.1:${base + 10000 + i}/api/overview`)) as {
        node: string;
      };
      assert.equal(overview.node, name);
      // Every member is listed now that the nodes form a cluster; this node with its pid.
      const listed = (await getJson(`http://127.0.0.1:${base + 10000 + i}/api/nodes`)) as {
        name: string;
        os_pid: string;
      }[];
      assert.deepEqual(listed.map((n) => n.name).sort(), [...names].sort());
      const node = listed.find((n) => n.name === name);
      assert.equal(node?.name, name);
      pids.push(Number(node!.os_pid));
      const metrics = await fetch(`http://127.0.0.1:${base + 10020 + i}/metrics`);
      assert.match(await metrics.text(), new RegExp(`rabbitmq_node="${name}"`));
      // Each line is prefixed with its node, and every node was told the whole cluster.
      assert.match(
        launcher.output(),
        new RegExp(
          `^warren-${i + 1} \\| \\S+ INFO  node ${name}, cluster port ${base + 20000 + i}; cluster secret from WARREN_CLUSTER_SECRET$`,
          "m",
        ),
      );
      assert.match(
        launcher.output(),
        new RegExp(`^warren-${i + 1} \\| .*cluster nodes configured: ${clusterNodes};`, "m"),
      );
      // One secret for all: the launcher's, not a cookie per node.
      assert.equal(existsSync(join(dataRoot, `node${i + 1}`, ".warren-cookie")), false);
    }
    const cookie = join(dataRoot, ".warren-cookie");
    assert.equal(statSync(cookie).mode & 0o777, 0o600);
    assert.doesNotMatch(launcher.output(), new RegExp(readFileSync(cookie, "utf8").trim()));

    // One node dies: the launcher says so and keeps the others.
    process.kill(pids[1]!, "SIGKILL");
    await launcher.waitFor(
      /cluster: node warren-2@127\.0\.0\.1 was killed by SIGKILL; 2 of 3 nodes still running/,
      10_000,
    );
    assert.ok(alive(pids[0]!) && alive(pids[2]!));

    launcher.child.kill("SIGINT");
    assert.equal(await launcher.exited, 0, launcher.output());
    assert.match(launcher.output(), /cluster: all nodes stopped/);
    for (const pid of pids) assert.equal(alive(pid), false, `node pid ${pid} is gone`);
    // They stopped by SIGTERM, cleanly, not by the SIGKILL after the timeout.
    assert.doesNotMatch(launcher.output(), /did not stop within/);
    assert.match(launcher.output(), /^warren-1 \| .*Warren stopped$/m);
  } finally {
    killGroup(launcher);
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
  }
});

test("a taken port stops the launcher before any node starts, naming the port", {
  skip,
}, async () => {
  const base = await freeBasePort();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(base + 1 + 10000, "127.0.0.1", resolve));
  const launcher = launch([
    "--nodes",
    "3",
    "--base-port",
    String(base),
    "--data-root",
    join(root, "taken"),
    "--host",
    "127.0.0.1",
  ]);
  try {
    assert.equal(await launcher.exited, 64);
    assert.match(
      launcher.output(),
      new RegExp(
        `cannot start, ports are taken:\\n  port ${base + 10001} \\(management of warren-2@127\\.0\\.0\\.1\\) on 127\\.0\\.0\\.1: in use\\nstop what uses them or choose another --base-port`,
      ),
    );
    assert.doesNotMatch(launcher.output(), /warren-1 \|/);
  } finally {
    killGroup(launcher);
    blocker.close();
  }
});

test("bad launcher options are refused with the usage", { skip }, async () => {
  const launcher = launch(["--nodes", "0"]);
  assert.equal(await launcher.exited, 64);
  assert.match(launcher.output(), /--nodes must be a whole number from 1 to 9, got '0'/);
});

// The same refusals through the real `warren` binary: the exit code and what stderr says.

function runWarren(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, "dist/src/cli/warren.js"), "--port", "0", "--host", "127.0.0.1", ...args],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, WARREN_LOG_LEVEL: "error" } },
  );
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr += t;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

test("warren refuses a bad node name with exit 64 and says what a name looks like", {
  skip,
}, async () => {
  const r = await runWarren(["--node-name", "a@b@c", "--data-dir", join(root, "badname")]);
  assert.equal(r.code, 64);
  assert.match(
    r.stderr,
    /^warren: --node-name 'a@b@c' is not a valid node name: it has more than one '@' \(expected name@host, e\.g\. warren@\S+\)\n/,
  );
});

test("warren refuses a cookie file others can read, with Erlang's words and the chmod to run", {
  skip,
}, async () => {
  const dataDir = join(root, "open-cookie");
  mkdirSync(dataDir);
  const cookie = join(dataDir, ".warren-cookie");
  writeFileSync(cookie, "secret\n");
  chmodSync(cookie, 0o644);
  const r = await runWarren(["--data-dir", dataDir, "--mgmt-port", "0", "--prometheus-port", "0"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `warren: could not start: Cookie file ${cookie} must be accessible by owner only \\(its mode is 0644\\); run chmod 600 ${cookie} and start again`,
    ),
  );
  assert.equal(readFileSync(cookie, "utf8"), "secret\n");
});
