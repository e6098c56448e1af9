import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type Connection, connect, sleep, withTimeout } from "../support/amqplib-helpers.js";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";

const skip = process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SEGMENT_BYTES = 16 * 1024;
const DEEP_MESSAGES = 3000;

interface FileDescriptors {
  total_limit: number;
  total_used: number;
  sockets_limit: number;
  sockets_used: number;
  reserved_for_files: Record<string, number>;
}

async function descriptors(node: MgmtBroker): Promise<FileDescriptors> {
  const res = await api(node.mgmtUrl, "GET", "/api/warren/status");
  assert.equal(res.status, 200);
  return (res.body as { file_descriptors: FileDescriptors }).file_descriptors;
}

/** Descriptors the process holds: all of them, and those on message log segments. */
function openFiles(pid: number): { total: number; segments: number } {
  let segments = 0;
  const fds = readdirSync(`/proc/${pid}/fd`);
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith(".wlog")) segments++;
    } catch {
      // closed while we looked
    }
  }
  return { total: fds.length, segments };
}

/** Durable queue "deep" with persistent messages spread over hundreds of small segments. */
async function fillDeepQueue(dataDir: string): Promise<void> {
  const node = await startMgmtBroker({
    dataDir,
    args: ["--segment-bytes", String(SEGMENT_BYTES)],
  });
  const conn = await connect(node.broker.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue("deep", { durable: true });
  for (let i = 0; i < DEEP_MESSAGES; i++)
    ch.sendToQueue("deep", Buffer.alloc(2048, i % 251), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
  await node.stop();
}

describe("descriptor accounting", { skip }, () => {
  test("hundreds of segments under a low open-files limit: descriptors stay bounded, every advertised connection works, the next is refused", {
    timeout: 180_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "warren-fds-"));
    dirs.push(dataDir);
    await fillDeepQueue(dataDir);
    const segments = readdirSync(join(dataDir, "msgs")).filter((f) => f.endsWith(".wlog"));
    assert.ok(segments.length >= 300, `${segments.length} segments hold live messages`);

    const limit = 256;
    const node = await startMgmtBroker({
      dataDir,
      maxOpenFiles: limit,
      args: ["--segment-bytes", String(SEGMENT_BYTES)],
    });
    const pid = node.broker.process!.pid!;
    const clients: Connection[] = [];
    let maxTotal = 0;
    let maxSegments = 0;
    const sampler = setInterval(() => {
      const o = openFiles(pid);
      maxTotal = Math.max(maxTotal, o.total);
      maxSegments = Math.max(maxSegments, o.segments);
    }, 50);
    try {
      const fds = await descriptors(node);
      assert.equal(fds.total_limit, limit);
      const allowance = fds.sockets_limit;
      assert.equal(
        allowance,
        limit - fds.reserved_for_files.total!,
        "status shows the reserve it keeps",
      );
      assert.ok(allowance >= 100, `allowance ${allowance} of ${limit}`);
      assert.ok(
        openFiles(pid).total < fds.reserved_for_files.total!,
        "with no connections the node uses less than its reserve",
      );

      // Every advertised connection opens and works.
      for (let i = 0; i < allowance; i++) clients.push(await connect(node.broker.url));
      await Promise.all(
        clients.map(async (c, i) => {
          const ch = await c.createConfirmChannel();
          ch.sendToQueue("deep", Buffer.from(`from connection ${i}`), { persistent: true });
          await withTimeout(ch.waitForConfirms(), 30_000, `confirm on connection ${i}`);
        }),
      );
      // One of them drains the queue: reads reach back through every segment.
      const ch = await clients[0]!.createChannel();
      await ch.prefetch(500);
      let got = 0;
      let done!: () => void;
      const drained = new Promise<void>((r) => {
        done = r;
      });
      await ch.consume("deep", (m) => {
        if (!m) return;
        ch.ack(m);
        if (++got === DEEP_MESSAGES + allowance) done();
      });
      await withTimeout(drained, 60_000, `draining: ${got} delivered`);

      // The next connection is refused at accept, politely.
      const refused = await refusedConnection(node.broker.port);
      assert.equal(refused, "closed", "refused with a clean close, not a reset");
      await node.broker.waitForLog(
        (l) => String(l.msg).includes("file descriptors near the limit"),
        3000,
      );
      // The management API still answers.
      assert.equal((await api(node.mgmtUrl, "GET", "/api/overview")).status, 200);

      assert.ok(maxSegments <= 18, `at most ${maxSegments} segment files were open at once`);
      assert.ok(maxTotal <= limit, `at most ${maxTotal} descriptors of ${limit}`);
      const emfile = node.broker.logs.filter((l) => /EMFILE|ENFILE/.test(JSON.stringify(l)));
      assert.deepEqual(emfile, [], "no descriptor error anywhere in the log");
      assert.doesNotMatch(node.broker.stderr(), /EMFILE|ENFILE/);
    } finally {
      clearInterval(sampler);
      for (const c of clients) await withTimeout(c.close(), 2000, "close").catch(() => {});
      await node.stop();
    }
  });

  test("an open-files limit lowered with prlimit while the node runs shows in status within seconds, and admission follows it", {
    timeout: 90_000,
  }, async () => {
    const node = await startMgmtBroker({ maxOpenFiles: 1024 });
    const clients: Connection[] = [];
    try {
      const pid = node.broker.process!.pid!;
      const before = await descriptors(node);
      assert.equal(before.total_limit, 1024);
      const lowered = 180;
      execFileSync("prlimit", ["--pid", String(pid), `--nofile=${lowered}:${lowered}`], {
        stdio: "pipe",
      });
      const deadline = Date.now() + 5000;
      let now = before;
      while (Date.now() < deadline) {
        now = await descriptors(node);
        if (now.sockets_limit !== before.sockets_limit) break;
        await sleep(200);
      }
      assert.equal(now.total_limit, lowered);
      assert.equal(now.sockets_limit, lowered - now.reserved_for_files.total!);
      await node.broker.waitForLog(
        (l) => String(l.msg).startsWith(`open files limit changed from 1024 to ${lowered}`),
        2000,
      );
      // The new allowance holds: all of it works, the next is refused, nothing hits EMFILE.
      for (let i = 0; i < now.sockets_limit; i++) clients.push(await connect(node.broker.url));
      await Promise.all(
        clients.map(async (c) => {
          const ch = await c.createConfirmChannel();
          await ch.assertQueue("", { exclusive: true });
        }),
      );
      assert.equal(await refusedConnection(node.broker.port), "closed");
      assert.equal((await api(node.mgmtUrl, "GET", "/api/overview")).status, 200);
      const emfile = node.broker.logs.filter((l) => /EMFILE|ENFILE/.test(JSON.stringify(l)));
      assert.deepEqual(emfile, []);
    } finally {
      for (const c of clients) await withTimeout(c.close(), 2000, "close").catch(() => {});
      await node.stop();
    }
  });
});

/** Connects and sends the protocol header; says whether the broker closed the socket or reset it. */
function refusedConnection(port: number): Promise<"closed" | "reset" | "served"> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => s.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1")));
    s.on("data", () => {
      resolve("served");
      s.destroy();
    });
    s.on("error", (e: NodeJS.ErrnoException) =>
      resolve(e.code === "ECONNRESET" ? "reset" : "closed"),
    );
    s.on("close", () => resolve("closed"));
  });
}
