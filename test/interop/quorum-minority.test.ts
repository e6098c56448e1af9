/**
 * A quorum queue that lost its majority while the cluster kept one (5 nodes, a queue of 3):
 * it confirms nothing while two of its members are down, the publish waits rather than being
 * confirmed, and once one member is back the waiting publish is confirmed and every message
 * confirmed before is still there.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import amqp, { type ChannelModel } from "amqplib";
import { sleep, withTimeout } from "../support/amqplib-helpers.js";
import { TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");
let c: TestCluster;

before(async () => {
  if (skip) return;
  c = await TestCluster.create(5);
  await c.startAll();
  await c.allServing(60_000);
});

after(async () => {
  await c?.stopAll();
});

describe("a quorum queue without its majority", { skip }, () => {
  test("confirms nothing while two of its three members are down, and resumes with every message when one is back", async () => {
    const conn: ChannelModel = await amqp.connect(c.url(0));
    conn.on("error", () => {});
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("qq-minority", {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-quorum-initial-group-size": 3 },
    });
    let members: string[] = [];
    await eventually(
      "a leader on the declaring node",
      async () => {
        const r = await api(c.nodes[0]!.mgmtUrl, "GET", "/api/queues/%2F/qq-minority");
        const q = r.body as { leader: string | null; members: string[] };
        members = q.members;
        return q.leader === c.nodes[0]!.spec.name;
      },
      30_000,
    );
    for (let i = 0; i < 50; i++)
      ch.sendToQueue("qq-minority", Buffer.from(`before-${i}`), { persistent: true });
    await withTimeout(ch.waitForConfirms(), 20_000, "confirms with every member up");

    const others = members
      .filter((m) => m !== c.nodes[0]!.spec.name)
      .map((m) => c.nodes.findIndex((n) => n.spec.name === m));
    assert.equal(others.length, 2);
    await c.stop(others[0]!);
    await c.stop(others[1]!);

    let confirmed = false;
    let nacked = false;
    ch.sendToQueue("qq-minority", Buffer.from("during"), { persistent: true }, (err) => {
      if (err) nacked = true;
      else confirmed = true;
    });
    await sleep(5_000);
    assert.equal(confirmed, false, "no confirm without a majority of the queue's members");
    assert.equal(nacked, false, "not nacked either within 5 s (it waits up to 30 s)");
    const status = await api(c.nodes[0]!.mgmtUrl, "GET", "/api/queues/%2F/qq-minority");
    assert.equal((status.body as { online: string[] }).online.length, 1, "one member online");

    await c.start(others[0]!);
    await c.serving(others[0]!, 60_000);
    await eventually("the waiting publish to be confirmed", () => confirmed || nacked, 30_000);
    assert.equal(nacked, false, "the publish that waited is confirmed, not nacked");

    const got: string[] = [];
    await eventually(
      "every message back",
      async () => {
        for (
          let m = await ch.get("qq-minority", { noAck: true });
          m;
          m = await ch.get("qq-minority", { noAck: true })
        )
          got.push(m.content.toString());
        return got.length >= 51;
      },
      30_000,
    );
    assert.deepEqual(got, [...Array.from({ length: 50 }, (_, i) => `before-${i}`), "during"]);
    await conn.close();
  });
});
