/**
 * Three Raft nodes, each its own process with a file log store, over the TCP transport:
 * kill -9 the leader in the middle of the work, restart it on its data dir and port, and it
 * catches up. Real processes and a real SIGKILL: the kernel, not our close(), ends the
 * connections.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";

const NODE_PROGRAM = join(import.meta.dirname, "cluster-transport-node.js");
const IDS = ["warren@a", "warren@b", "warren@c"];

type Event = Record<string, unknown> & { event: string };

class NodeProcess {
  readonly events: Event[] = [];
  port = 0;
  role = "follower";
  term = 0;
  private child: ChildProcess | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly dir: string,
  ) {}

  start(port = 0): void {
    const child = spawn(
      process.execPath,
      [
        NODE_PROGRAM,
        "--id",
        this.id,
        "--dir",
        this.dir,
        "--port",
        String(port),
        "--members",
        IDS.join(","),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    this.child = child;
    this.role = "follower";
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = JSON.parse(line) as Event;
      this.events.push(event);
      if (event.event === "listening") this.port = event.port as number;
      if (event.event === "role") {
        this.role = event.role as string;
        this.term = event.term as number;
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  send(request: Record<string, unknown>): void {
    this.child?.stdin?.write(`${JSON.stringify(request)}\n`);
  }

  /** Waits for the next event matching the predicate after `from` (an index into events). */
  async next(pred: (e: Event) => boolean, from: number, timeoutMs = 10_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found !== undefined) return found;
      if (Date.now() > deadline)
        throw new Error(`${this.id}: no matching event in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async dump(): Promise<string[]> {
    const from = this.events.length;
    this.send({ op: "dump" });
    const event = await this.next((e) => e.event === "dump", from);
    return event.commands as string[];
  }

  /** SIGKILL: no close(), no flush; the kernel ends the sockets. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null || !this.running()) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || !this.running()) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function introduce(nodes: readonly NodeProcess[]): void {
  for (const a of nodes)
    for (const b of nodes) if (a !== b) a.send({ op: "peer", id: b.id, port: b.port });
}

/** The one running node that says it leads, at a term no other running node has passed. */
function leader(nodes: readonly NodeProcess[]): NodeProcess | null {
  const running = nodes.filter((n) => n.running());
  const maxTerm = Math.max(...running.map((n) => n.term));
  const leaders = running.filter((n) => n.role === "leader" && n.term === maxTerm);
  return leaders.length === 1 ? leaders[0]! : null;
}

/** Proposes through the leader until it is applied (or its fate is unknown), bounded. */
async function commit(nodes: readonly NodeProcess[], cmd: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const current = leader(nodes);
    if (current !== null) {
      const from = current.events.length;
      current.send({ op: "propose", cmd });
      const outcome = await current
        .next((e) => e.event === "outcome" && e.cmd === cmd, from)
        .catch(() => null);
      if (outcome?.status === "applied" || outcome?.status === "unknown") return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`could not commit ${cmd}`);
}

test("kill -9 the Raft leader's process: the others carry on over TCP, and it catches up when restarted", async () => {
  const root = mkdtempSync(join(tmpdir(), "warren-cluster-transport-"));
  const nodes = IDS.map((id) => new NodeProcess(id, join(root, id)));
  try {
    for (const node of nodes) node.start();
    await waitFor("every node listening", () => nodes.every((n) => n.port > 0));
    introduce(nodes);
    await waitFor("a leader", () => leader(nodes) !== null);
    for (let i = 0; i < 60; i++) await commit(nodes, `before-${i}`);

    const victim = leader(nodes)!;
    const port = victim.port;
    await victim.kill();
    const survivors = nodes.filter((n) => n !== victim);
    await waitFor("a new leader among the survivors", () => leader(survivors) !== null);
    for (let i = 0; i < 60; i++) await commit(survivors, `after-${i}`);

    const restartedAt = victim.events.length;
    victim.start(port);
    await victim.next((e) => e.event === "listening", restartedAt);
    introduce(nodes);
    const reference = await survivors[0]!.dump();
    assert.ok(reference.length >= 120);
    await waitFor(
      "the restarted node caught up",
      async () => (await victim.dump()).length === reference.length,
      20_000,
    );
    for (const node of nodes) assert.deepEqual(await node.dump(), reference);
    assert.equal(new Set(reference).size, reference.length, "no command applied twice");
    assert.ok(
      victim.events.some(
        (e) => e.event === "log" && /cluster link to warren@. .* is up/.test(e.msg as string),
      ),
    );
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  }
});
