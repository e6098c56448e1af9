/**
 * kill -9 of the metadata group's leader in the middle of 1,000 queue declares from a client
 * on another node: every declare that got declare-ok is on every node afterwards (the killed
 * one too, once restarted from its own log), and no queue is there twice.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
const DECLARES = 1_000;
const KILL_AFTER = 300;

/** The node that most recently said it leads the metadata group (highest term). */
function leaderOf(c: TestCluster): number {
  let best = { node: -1, term: -1 };
  c.nodes.forEach((n, i) => {
    for (const l of n.broker?.logs ?? []) {
      if (l.self === true && typeof l.term === "number" && l.term > best.term)
        best = { node: i, term: l.term };
    }
  });
  if (best.node < 0) throw new Error("no node said it leads");
  return best.node;
}

async function queueNames(base: string): Promise<string[]> {
  const res = await api(base, "GET", "/api/queues/%2F");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body as { name: string }[]).map((q) => q.name);
}

test("kill -9 of the metadata leader during 1,000 declares: every declare-ok is on every node, none twice", {
  skip,
  timeout: 240_000,
}, async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.allServing();
    const leader = leaderOf(c);
    const clientNode = (leader + 1) % 3;
    const conn = await amqp.connect(c.url(clientNode));
    conn.on("error", () => {});
    const acknowledged: string[] = [];
    const failures: string[] = [];
    // A channel closed by the server (506) must not take the connection with it.
    const channel = async () => {
      const opened = await conn.createChannel();
      opened.on("error", () => {});
      return opened;
    };
    let ch = await channel();
    let killed: Promise<void> | undefined;
    const started = Date.now();
    for (let i = 0; i < DECLARES; i++) {
      if (i === KILL_AFTER) killed = c.kill(leader);
      const name = `declared-${i}`;
      try {
        await ch.assertQueue(name, { durable: true });
        acknowledged.push(name);
      } catch (e) {
        // 506 while the group elects a new leader: the channel is closed; use a new one.
        failures.push(`${name}: ${(e as Error).message}`);
        ch = await channel();
      }
    }
    await killed;
    console.log(`declares took ${Date.now() - started} ms; ${failures.length} failed`);
    await conn.close();
    // Most declares went through; the few during the election may have failed with 506.
    assert.ok(
      acknowledged.length >= DECLARES - 50,
      `only ${acknowledged.length} acknowledged: ${failures.slice(0, 5).join("; ")}`,
    );
    for (const f of failures) assert.match(f, /506|RESOURCE_ERROR|unavailable/, f);
    assert.ok(Date.now() - started < 180_000);

    await c.start(leader);
    await c.serving(leader, 60_000);
    for (const i of [0, 1, 2]) {
      const deadline = Date.now() + 20_000;
      let names: string[] = [];
      for (;;) {
        names = await queueNames(c.nodes[i]!.mgmtUrl);
        const have = new Set(names);
        if (acknowledged.every((n) => have.has(n)) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const have = new Set(names);
      const missing = acknowledged.filter((n) => !have.has(n));
      assert.deepEqual(missing, [], `node ${i} lacks acknowledged declares`);
      assert.equal(have.size, names.length, `node ${i} lists a queue twice`);
      assert.ok(names.filter((n) => n.startsWith("declared-")).length <= DECLARES);
    }
  } catch (e) {
    for (const [i, n] of c.nodes.entries()) {
      const lines = (n.broker?.logs ?? []).filter((l) => Number(l.level) >= 40).slice(-8);
      console.log(`node ${i}:\n${lines.map((l) => JSON.stringify(l).slice(0, 400)).join("\n")}`);
    }
    throw e;
  } finally {
    await c.stopAll();
  }
});
