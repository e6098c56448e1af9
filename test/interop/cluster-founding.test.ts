/**
 * A single node that becomes a member of a new cluster brings its definitions: they become
 * the cluster's initial state (whichever node is elected first), and its durable queues keep
 * their persistent messages. The fresh nodes' own bootstrap defaults do not replace them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import amqp from "amqplib";
import { startBroker } from "../support/broker-process.js";
import { TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster");

test("a single node's definitions and messages become the new cluster's, whoever leads first", {
  skip,
  timeout: 120_000,
}, async () => {
  const c = await TestCluster.create(3);
  try {
    // Node 1 alone, as it ran before clustering: a user, a durable queue, 3 messages.
    const alone = await startBroker({ dataDir: c.nodes[0]!.spec.dataDir });
    const conn = await amqp.connect(alone.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("kept", { durable: true });
    for (const body of ["m1", "m2", "m3"])
      ch.sendToQueue("kept", Buffer.from(body), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await alone.stop();

    await c.startAll();
    await c.allServing();
    for (const i of [0, 1, 2]) {
      await eventually(`node ${i} to have the queue 'kept'`, async () => {
        const q = await api(c.nodes[i]!.mgmtUrl, "GET", "/api/queues/%2F/kept");
        return q.status === 200;
      });
    }
    // Its messages are still there on the node that had them.
    const client = await amqp.connect(c.url(0));
    try {
      const consumer = await client.createChannel();
      const got: string[] = [];
      for (let k = 0; k < 3; k++) {
        const m = await consumer.get("kept", { noAck: true });
        assert.ok(m, `message ${k + 1} of 3`);
        got.push(m.content.toString());
      }
      assert.deepEqual(got, ["m1", "m2", "m3"]);
    } finally {
      await client.close();
    }
    const founders = c.nodes.flatMap((n) =>
      (n.broker?.logs ?? []).filter(
        (l) => typeof l.msg === "string" && l.msg.startsWith("founding a new cluster"),
      ),
    );
    assert.equal(founders.length, 1, JSON.stringify(founders));
    assert.equal(founders[0]!.from, c.nodes[0]!.spec.name);
  } finally {
    await c.stopAll();
  }
});
