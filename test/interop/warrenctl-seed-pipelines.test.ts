import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Connection, connect } from "../support/amqplib-helpers.js";
import { type MgmtBroker, shell, startMgmtBroker } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// The shell pipelines of seed 001 ("Missed heartbeats from client"), run as written
// with warrenctl in place of rabbitmqctl, and the shape of what they print.

const skip = warrenOnly("runs warrenctl against Warren");
let node: MgmtBroker;
const conns: Connection[] = [];

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  for (let i = 0; i < 3; i++) conns.push(await connect(node.broker.url));
  const ch = await conns[0]!.createChannel();
  await ch.assertQueue("reply_8f3c", { durable: false });
  await ch.assertQueue("conductor", { durable: false });
  for (let i = 0; i < 150; i++) ch.sendToQueue("reply_8f3c", Buffer.alloc(100));
  for (let i = 0; i < 7; i++) ch.sendToQueue("conductor", Buffer.alloc(100));
  await ch.assertQueue("idle", { durable: false });
  const worker = await conns[1]!.createChannel();
  await worker.consume("conductor", () => {});
  await ch.checkQueue("reply_8f3c");
});

after(async () => {
  for (const c of conns) await c.close().catch(() => {});
  await node?.stop();
});

describe("seed 001 pipelines", { skip }, () => {
  test("list_queues name messages consumers memory | sort -k2 -n -r | head puts the backed-up reply queue first", async () => {
    const r = await shell(
      node.mgmtUrl,
      "$WARRENCTL list_queues name messages consumers memory | sort -k2 -n -r | head",
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    const first = lines[0]!.split("\t");
    assert.deepEqual(first.slice(0, 3), ["reply_8f3c", "150", "0"]);
    assert.ok(Number(first[3]) > 15_000, `memory ${first[3]} counts the 150 bodies`);
    // As with RabbitMQ 3.10, the "Timeout: 60.0 seconds ..." line sorts by its 60.
    assert.equal(lines[1], "Timeout: 60.0 seconds ...");
    assert.equal(lines.length, 6, "three queues, the header and the two info lines");
    const rest = lines.slice(2).filter((l) => /\t\d+$/.test(l) && !l.startsWith("name"));
    assert.deepEqual(rest.map((l) => l.split("\t").slice(0, 3).join(" ")).sort(), [
      "conductor 7 1",
      "idle 0 0",
    ]);
  });

  test("list_connections name state | sort | uniq -c counts connections by state", async () => {
    const r = await shell(node.mgmtUrl, "$WARRENCTL list_connections name state | sort | uniq -c");
    assert.equal(r.exitCode, 0, r.stderr);
    const running = r.stdout.split("\n").filter((l) => / running$/.test(l) || /\trunning$/.test(l));
    assert.equal(running.length, 3, r.stdout);
    for (const l of running)
      assert.match(l, /^\s+1 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\trunning$/);
  });

  test("list_connections state | sort | uniq -c gives the per-state counts of the seed's example", async () => {
    const r = await shell(
      node.mgmtUrl,
      "$WARRENCTL -q list_connections state --no-table-headers | sort | uniq -c",
    );
    assert.match(r.stdout.trim(), /^3 running$/);
  });

  test("list_connections name user state channels | sort -k4 -n -r | head", async () => {
    const r = await shell(
      node.mgmtUrl,
      "$WARRENCTL list_connections name user state channels | sort -k4 -n -r | head",
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\tguest\trunning\t1/);
  });

  test("list_connections | wc -l follows the number of connections", async () => {
    const before = Number(
      (await shell(node.mgmtUrl, "$WARRENCTL list_connections | wc -l")).stdout.trim(),
    );
    const extra = await connect(node.broker.url);
    const during = Number(
      (await shell(node.mgmtUrl, "$WARRENCTL list_connections | wc -l")).stdout.trim(),
    );
    await extra.close();
    assert.equal(during, before + 1);
  });

  test("status | grep -A3 file_descriptors shows the limits and use", async () => {
    const r = await shell(node.mgmtUrl, "$WARRENCTL status | grep -A3 file_descriptors");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /total_limit,\d+/);
    assert.match(r.stdout, /total_used,\d+/);
    assert.match(r.stdout, /sockets_limit,\d+/);
    assert.match(r.stdout, /sockets_used,3\b/);
  });

  test("cluster_status shows an empty Network Partitions section", async () => {
    const r = await shell(
      node.mgmtUrl,
      "$WARRENCTL cluster_status | grep -A2 'Network Partitions'",
    );
    assert.match(r.stdout, /Network Partitions\n\n\(none\)/);
  });
});
