/**
 * Quorum queues on a real 3-node cluster with Debian's Python clients (issue 17): pika 1.2
 * declares on one node, publishes with confirm_delivery on another and consumes with a
 * prefetch and a requeueing nack on the third (x-delivery-count 1, redelivered); kombu 5.2
 * publishes to a quorum Queue on one node and drains it on another; oslo.messaging 14 with
 * rabbit_quorum_queue = true and a transport_url listing every node runs RPC (calls, casts)
 * and notifications on quorum queues, then keeps calling while the node leading the RPC
 * server's queue is killed (-9): every call returns or raises within its timeout (none
 * stuck) and calls are answered again after the failover. The scripts are
 * python/quorum-clients.py and python/quorum-oslo.py.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sleep, uniqueName } from "../support/amqplib-helpers.js";
import { passiveCount } from "../support/cluster-amqp.js";
import { ClusterQueueFixture } from "../support/cluster-queue-fixture.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { runPythonScenario } from "../support/python-client.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

let f: ClusterQueueFixture;

before(async () => {
  if (skip) return;
  f = await ClusterQueueFixture.start();
});

after(async () => {
  await f?.stop();
});

const clients = <T = Record<string, unknown>>(scenario: string, node: number, args: string[]) =>
  runPythonScenario<T>("quorum-clients.py", scenario, f.cluster.url(node), args, 60_000);

interface QueueInfo {
  name: string;
  type: string;
  leader: string | null;
  members: string[];
  online: string[];
}

async function queueInfo(i: number, queue: string): Promise<QueueInfo | undefined> {
  const r = await api(f.mgmtUrl(i), "GET", `/api/queues/%2F/${encodeURIComponent(queue)}`);
  return r.status === 200 ? (r.body as QueueInfo) : undefined;
}

/** Waits until every node knows the queue and it has a leader. */
async function everywhereWithLeader(queue: string): Promise<QueueInfo> {
  for (let n = 0; n < 3; n++) {
    const conn = await f.on(n);
    await eventually(
      `${queue} on node ${n}`,
      async () => (await passiveCount(conn, queue)) !== undefined,
      20_000,
    );
    await conn.close();
  }
  let info: QueueInfo | undefined;
  await eventually(
    `a leader for ${queue}`,
    async () => {
      info = await queueInfo(0, queue);
      return info?.leader != null;
    },
    20_000,
  );
  return info!;
}

const nodeIndex = (name: string) => [0, 1, 2].find((i) => f.nodeName(i) === name);

describe("quorum queues with Python clients on a 3-node cluster", { skip }, () => {
  test("pika: declared on A, 500 confirmed publishes on B, consumed on C with prefetch 20; a requeued nack comes back with x-delivery-count 1", async (t) => {
    const queue = uniqueName("qq-pika");
    const declared = await clients("pika_declare", 0, [queue]);
    assert.deepEqual(declared, { queue, messages: 0, consumers: 0 });
    const info = await everywhereWithLeader(queue);
    assert.equal(info.type, "quorum");
    assert.equal(info.members.length, 3);
    t.diagnostic(`declared through ${f.nodeName(0)}; leader ${info.leader}`);

    const pub = await clients("pika_publish", 1, [queue, "500"]);
    assert.equal(pub.confirmed, 500, JSON.stringify(pub));
    assert.equal(pub.nacked, 0);
    assert.equal(pub.returned, 0);
    t.diagnostic(`500 publishes, each confirmed before the next, on B: ${pub.seconds} s`);

    const sub = await clients<{
      distinct: number;
      deliveries: number;
      missing: string[];
      nacked: { redelivered: boolean; deliveryCount: unknown } | null;
      back: { redelivered: boolean; deliveryCount: unknown } | null;
      otherDeliveryCounts: Record<string, number>;
      maxOutstanding: number;
      left: number;
    }>("pika_consume", 2, [queue, "500", "20"]);
    assert.deepEqual(sub.missing, [], "every published message was delivered");
    assert.equal(sub.distinct, 500);
    assert.equal(sub.deliveries, 501, "500 deliveries and the requeued one again");
    assert.deepEqual(sub.nacked, { redelivered: false, deliveryCount: null });
    assert.deepEqual(sub.back, { redelivered: true, deliveryCount: 1 });
    // First deliveries carry no x-delivery-count.
    assert.deepEqual(sub.otherDeliveryCounts, { None: 499 });
    assert.ok(sub.maxOutstanding <= 20, `prefetch 20 held (max outstanding ${sub.maxOutstanding})`);
    assert.equal(sub.left, 0, "the acks emptied the queue");
  });

  test("kombu: 200 messages published to a quorum Queue through one node drain through another, in order", async (t) => {
    const queue = uniqueName("qq-kombu");
    const published = await clients("kombu_publish", 0, [queue, "200"]);
    // The declare-ok after the publishes counts what the leader holds, wherever it is.
    t.diagnostic(
      `declared through ${f.nodeName(0)}; leader ${(await queueInfo(0, queue))?.leader}`,
    );
    assert.deepEqual(published, {
      published: 200,
      readyAfter: 200,
    });
    assert.equal((await queueInfo(0, queue))?.type, "quorum");
    assert.deepEqual(await clients("kombu_drain", 2, [queue, "200"]), {
      received: 200,
      inOrder: true,
      distinct: 200,
      left: 0,
    });
  });

  test("oslo.messaging with rabbit_quorum_queue: RPC and notifications on quorum queues; kill -9 of the RPC queue's leader: no call stuck, answered again after the failover", {
    timeout: 150_000,
  }, async (t) => {
    const CALL_TIMEOUT_S = 10;
    const AFTER_KILL_MS = 6_000;
    const scratch = mkdtempSync(join(tmpdir(), "warren-qq-oslo-"));
    const stopFile = join(scratch, "stop");
    let run: Promise<OsloRun> | undefined;
    try {
      const urls = [0, 1, 2].map((i) => f.cluster.url(i)).join(",");
      run = runPythonScenario<OsloRun>(
        "quorum-oslo.py",
        "run",
        urls,
        [stopFile, String(CALL_TIMEOUT_S), "60"],
        130_000,
      );
      run.catch(() => {});
      await Promise.race([waitForFile(`${stopFile}.ready`, 60_000), run]);
      const one = JSON.parse(readFileSync(`${stopFile}.ready`, "utf8")) as OsloRun;
      assert.ok(!one.warmUpFailed, `no RPC call answered in 30 s (${one.warmUpCalls} calls)`);
      assert.equal(one.callsRight, 50, "50 calls answered right");
      assert.deepEqual(
        one.casts,
        Array.from({ length: 20 }, (_, i) => i),
        "20 casts reached the server",
      );
      assert.deepEqual(
        one.notifications,
        Array.from({ length: 20 }, (_, i) => i),
        "the listener received all 20 notifications",
      );

      // The queues oslo declared: the durable ones (topic, topic.server, notifications) are
      // quorum; the reply and fanout queues are oslo's transient ones (classic).
      const listed = await api(f.mgmtUrl(0), "GET", "/api/queues");
      assert.equal(listed.status, 200);
      const types = new Map((listed.body as QueueInfo[]).map((q) => [q.name, q.type]));
      const quorumNames = [one.topic, `${one.topic}.${one.server}`, `${one.notifyTopic}.info`];
      for (const name of quorumNames) assert.equal(types.get(name), "quorum", name);
      assert.equal(types.get(one.replyQueue), "classic", one.replyQueue);
      t.diagnostic(
        `oslo queues: ${JSON.stringify([...types].filter(([n]) => n.includes(one.topic) || n.includes(one.notifyTopic) || n === one.replyQueue))}`,
      );

      const info = (await queueInfo(0, one.topic))!;
      const leader = nodeIndex(info.leader!);
      assert.notEqual(leader, undefined, `leader ${info.leader} is a node`);
      const survivor = [0, 1, 2].find((i) => i !== leader)!;
      // Where oslo's consumers and its reply queue are: a call in flight whose reply queue
      // or server connection was on the killed node waits out its timeout.
      const where = await placement(one);
      const killedAtMs = Date.now();
      await f.cluster.kill(leader!);
      await sleep(AFTER_KILL_MS);
      let newLeader: string | null | undefined;
      await eventually(
        `a new leader for ${one.topic}`,
        async () => {
          newLeader = (await queueInfo(survivor, one.topic))?.leader;
          return newLeader != null && newLeader !== info.leader;
        },
        20_000,
      );
      writeFileSync(stopFile, "");
      const r = await run;

      const calls = r.calls!;
      const ended = ([at, , took]: OsloCall) => at + took * 1000;
      const before = calls.filter((c) => ended(c) < killedAtMs);
      const across = calls.filter((c) => c[0] < killedAtMs && ended(c) >= killedAtMs);
      const afterKill = calls.filter(([at]) => at >= killedAtMs);
      const count = (some: OsloCall[]) => {
        const byOutcome: Record<string, number> = {};
        for (const [, outcome] of some) byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
        return byOutcome;
      };
      const late = calls.filter(([, , took]) => took > CALL_TIMEOUT_S + 5);
      const s = (ms: number) => ((ms - killedAtMs) / 1000).toFixed(1);
      const firstAnswer = afterKill.find((c) => c[1] === "ok");
      const summary =
        `killed ${info.leader} (leader of ${one.topic}; new leader ${newLeader}); ` +
        `${where}; ${r.callers} callers, ${CALL_TIMEOUT_S} s timeout; ` +
        `ended before the kill ${JSON.stringify(count(before))}; in flight at the kill ` +
        `${JSON.stringify(count(across))}; began after it ${JSON.stringify(count(afterKill))}; ` +
        `first call begun after the kill and answered: answered at +${firstAnswer ? s(ended(firstAnswer)) : "never"} s; ` +
        `calls in flight at the kill and the first 10 after [began s, outcome, took s] ${JSON.stringify(
          [...across, ...afterKill.slice(0, 10)].map(([at, o, took]) => [Number(s(at)), o, took]),
        )}; ` +
        `stop file at +${s(r.stopMs!)} s, a call made after it answered ${r.recoveredAfterS} s later; ` +
        `longest call ${Math.max(...calls.map(([, , took]) => took))} s; ` +
        `stuck ${r.stuckForS!.length}; errors ${JSON.stringify(r.errorSamples)}`;
      t.diagnostic(summary);
      // A reply queue homed on the killed node is a transient classic queue: the surviving
      // nodes refuse its redeclaration (its home is down) until the metadata leader drops
      // the dead node's transient queues; until then the client's replies have nowhere to go.
      for (const i of [0, 1, 2].filter((n) => n !== leader)) {
        const logs = f.cluster.broker(i).logs;
        const refused = logs.filter((l) => String(l.msg).includes("home node"));
        const dropped = logs.filter((l) => String(l.msg).includes("queues homed on"));
        const lines = [...refused.slice(0, 1), ...refused.slice(-1), ...dropped].map((l) => {
          const at = typeof l.time === "number" ? l.time : Date.parse(String(l.time));
          return `+${s(at)} s ${String(l.msg).slice(0, 220)}`;
        });
        if (refused.length > 0) lines.unshift(`${refused.length} redeclarations refused`);
        if (lines.length > 0) t.diagnostic(`${f.nodeName(i)}: ${lines.join(" | ")}`);
      }
      assert.deepEqual(r.stuckForS, [], `calls still in flight: ${summary}`);
      assert.deepEqual(late, [], `calls came back after their timeout + 5 s: ${summary}`);
      assert.equal(count(calls).wrong, undefined, summary);
      assert.ok(
        before.some(([, o]) => o === "ok"),
        `calls answered before the kill: ${summary}`,
      );
      assert.notEqual(r.recoveredAfterS, null, `no call answered after the failover: ${summary}`);
      assert.equal(r.cleanupHung, false, `stopping the server or transports hung: ${summary}`);
    } finally {
      // The script stops on the stop file, within its bounds: never left running.
      writeFileSync(stopFile, "");
      await run?.catch(() => {});
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

/** [wall-clock start ms, "ok" | "wrong" | error class, seconds taken] */
type OsloCall = [number, string, number];

interface OsloRun {
  topic: string;
  server: string;
  notifyTopic: string;
  replyQueue: string;
  warmUpFailed?: boolean;
  warmUpCalls: number;
  callsRight: number;
  casts: number[];
  notifications: number[];
  callers?: number;
  calls?: OsloCall[];
  errorSamples?: Record<string, string>;
  stopMs?: number;
  recoveredAfterS?: number | null;
  stuckForS?: number[];
  cleanupHung?: boolean;
}

/** Which node holds the consumers of oslo's RPC queues and its reply queue, for the report. */
async function placement(one: OsloRun): Promise<string> {
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await api(f.mgmtUrl(i), "GET", "/api/consumers");
    const mine = (r.body as { queue: { name: string } }[]).filter(
      (c) => c.queue.name.startsWith(one.topic) || c.queue.name === one.replyQueue,
    );
    for (const c of mine) parts.push(`${c.queue.name} consumed on ${f.nodeName(i)}`);
  }
  const reply = await api(f.mgmtUrl(0), "GET", `/api/queues/%2F/${one.replyQueue}`);
  parts.push(`reply queue on ${(reply.body as { node?: string }).node}`);
  return parts.join(", ");
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await sleep(100);
  }
}
