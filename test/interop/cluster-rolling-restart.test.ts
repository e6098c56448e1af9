/**
 * A rolling restart under OpenStack RPC (seed 000: "VMs stuck in BUILD", RPC calls that hang
 * while the messaging layer restarts). oslo.messaging 14 (Debian's python3-oslo.messaging)
 * runs one RPC server and a client whose transport_url lists all three nodes; four threads
 * call back to back, 10 s timeout each, while the test restarts node1, node2 and node3 one at
 * a time (SIGTERM, start on the same data dir and AMQP port, wait for "has caught up").
 * Every call must come back, with a result or an error (MessagingTimeout counts as an error,
 * and the counts are printed); none may stay stuck past its timeout; RPC works again after.
 * With oslo's default transient queues, with amqp_durable_queues=true (the topic queue then
 * waits, unavailable, for its home while that node restarts), and with kill -9 instead of
 * SIGTERM (no connection.close to the clients: their sockets just end).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sleep } from "../support/amqplib-helpers.js";
import { TestCluster } from "../support/cluster-process.js";
import { runPythonScenario } from "../support/python-client.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts and restarts its own Warren cluster");

const CALL_TIMEOUT_S = 10;
/** The calls' upper bound if the test never says stop (the restarts take well under this). */
const MAX_CALLS_S = 75;
/** Calls keep going this long before the first restart and after the last node is back. */
const QUIET_MS = 5_000;

interface RollingResult {
  /** Set (and nothing else) when no call was answered within 30 s, before any restart. */
  readonly warmUpFailed?: boolean;
  readonly warmUpCalls: number;
  readonly callers: number;
  readonly callsS: number;
  readonly answered: number;
  readonly wrong: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly errorSamples: string[];
  /** [seconds since the calls began, error class, seconds the call took] */
  readonly failures: [number, string, number][];
  /** From the stop file (every node back) to the answer of a call made after it; null: none. */
  readonly recoveredAfterS: number | null;
  readonly lastAnsweredS: number | null;
  readonly lastFailedS: number | null;
  readonly late: number;
  readonly maxCallS: number;
  readonly stuck: number;
  readonly stuckForS: number[];
  readonly cleanupHung: boolean;
}

/** What node i logged about its links, homes, refusals and warnings, for a failure's report. */
function clusterLogOf(c: TestCluster, i: number, originMs: number): string[] {
  const name = c.nodes[i]!.spec.name;
  const relevant =
    /cluster link|cluster peer|caught up|deleting|pausing|majority|stalled|home node/;
  let homeErrors = 0;
  const lines = c
    .broker(i)
    .logs.filter((l) => {
      const msg = String(l.msg);
      if (Number(l.level ?? 0) >= 50) return true;
      if (!relevant.test(msg)) return false;
      // The same 404 for every retry of a client: the first few say it.
      return !msg.includes("home node") || ++homeErrors <= 3;
    })
    .slice(-60)
    .map((l) => {
      const at = typeof l.time === "number" ? l.time : Date.parse(String(l.time));
      return `${name} +${((at - originMs) / 1000).toFixed(1)} s ${String(l.msg).slice(0, 300)}`;
    });
  return [`${name}'s log since its last start (cluster links and homes, errors):`, ...lines];
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await sleep(100);
  }
}

for (const [durable, how] of [
  [false, "SIGTERM"],
  [true, "SIGTERM"],
  [false, "kill -9"],
] as const) {
  test(`oslo.messaging RPC calls during a rolling restart (${how}) of all three nodes all come back, none stuck (amqp_durable_queues=${durable})`, {
    skip,
    timeout: 170_000,
  }, async (t) => {
    const c = await TestCluster.create(3, { fixedAmqpPorts: true });
    const scratch = mkdtempSync(join(tmpdir(), "warren-rolling-"));
    const stopFile = join(scratch, "stop");
    try {
      await c.startAll();
      await c.allServing();
      const urls = c.nodes.map((_, i) => c.url(i)).join(",");
      const run = runPythonScenario<RollingResult>(
        "cluster_rolling_rpc.py",
        "calls",
        urls,
        [stopFile, String(MAX_CALLS_S), String(CALL_TIMEOUT_S), String(durable)],
        (MAX_CALLS_S + 90) * 1000,
      );
      // Should the script fail before the stop file, its error surfaces at `await run`.
      run.catch(() => {});
      await Promise.race([waitForFile(`${stopFile}.ready`, 40_000), run]);
      const early = await Promise.race([run, sleep(500).then(() => undefined)]);
      assert.ok(
        !early?.warmUpFailed,
        `no RPC call was answered in 30 s (${early?.warmUpCalls} calls of 2 s), before any restart`,
      );
      await sleep(QUIET_MS);
      const { originMs } = JSON.parse(readFileSync(`${stopFile}.ready`, "utf8")) as {
        originMs: number;
      };
      /** [from, to] seconds since the counted calls began, one per node, for the report. */
      const restarts: [number, number][] = [];
      const since = (ms: number) => Math.round((ms - originMs) / 100) / 10;
      for (let i = 0; i < c.nodes.length; i++) {
        const began = Date.now();
        if (how === "SIGTERM") await c.stop(i);
        else await c.kill(i);
        await c.start(i);
        await c.serving(i, 60_000);
        restarts.push([since(began), since(Date.now())]);
      }
      await sleep(QUIET_MS);
      writeFileSync(stopFile, "");
      const r = await run;
      const summary =
        `rolling restart under oslo RPC (${how}, durable queues: ${durable}): ${r.answered} calls answered, ${r.failed} failed ` +
        `${JSON.stringify(r.errors)}, ${r.wrong} wrong answers, ${r.late} late, ${r.stuck} stuck, ` +
        `longest call ${r.maxCallS} s, over ${r.callsS} s of calls by ${r.callers} callers; ` +
        `answered again ${r.recoveredAfterS} s after the last restart + ${QUIET_MS / 1000} s; ` +
        `node restarts (stop to caught up) at [s since the calls began] ${JSON.stringify(restarts)}; ` +
        `AMQP ports: ${c.nodes.map((n, i) => `${n.spec.name} ${c.broker(i).port}`).join(", ")}`;
      t.diagnostic(summary);
      if (r.stuck > 0 || r.late > 0 || r.recoveredAfterS === null) {
        for (let i = 0; i < c.nodes.length; i++) {
          for (const line of clusterLogOf(c, i, originMs)) t.diagnostic(line);
        }
      }
      if (r.failed > 0) {
        t.diagnostic(`first errors: ${JSON.stringify(r.errorSamples)}`);
        t.diagnostic(`failures [s since start, class, s taken]: ${JSON.stringify(r.failures)}`);
      }
      // A node that died during the calls (a crash after a restart) shows here first.
      for (let i = 0; i < c.nodes.length; i++) {
        const proc = c.broker(i).process;
        assert.ok(
          proc?.exitCode === null && proc.signalCode === null,
          `${c.nodes[i]!.spec.name} exited (${proc?.exitCode ?? proc?.signalCode}) during the calls: ${c.broker(i).stderr().slice(-2000)}`,
        );
      }
      assert.equal(
        r.stuck,
        0,
        `calls still in flight ${JSON.stringify(r.stuckForS)} s: ${summary}`,
      );
      assert.equal(r.late, 0, `calls came back after their timeout + 5 s: ${summary}`);
      assert.equal(r.wrong, 0, summary);
      assert.ok(r.answered > 0, summary);
      // After the last restart RPC works again: a call made then was answered.
      assert.notEqual(r.recoveredAfterS, null, `no call answered after the restarts: ${summary}`);
      assert.equal(r.cleanupHung, false, `stopping the RPC server or transports hung: ${summary}`);
    } finally {
      writeFileSync(stopFile, "");
      await c.stopAll();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
