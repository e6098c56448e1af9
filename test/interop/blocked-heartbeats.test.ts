import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { warrenOnly } from "../support/warren-only.js";

// Issue 13 item 6: a publisher blocked by a resource alarm must keep its connection
// however long the alarm lasts (RabbitMQ pauses its heartbeat monitor while it does
// not read a blocked connection), and must keep receiving the broker's heartbeats.

const skip = warrenOnly("sets the memory watermark of a Warren it starts");
let node: MgmtBroker;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
});
after(async () => {
  await node?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a publisher blocked by the memory alarm", { skip }, () => {
  test("keeps its heartbeat=1 connection for 5 s of alarm, receives heartbeats, and is confirmed after", async () => {
    const { client } = await RawAmqpClient.open(node.broker.host, node.broker.port, {
      heartbeatSec: 1,
    });
    // A well-behaved client: a heartbeat every half interval, whatever happens.
    const beat = setInterval(() => client.sendHeartbeat(), 500);
    try {
      await client.openChannel(1);
      const queue = await client.declareQueue(1, "held-publishes", { exclusive: false });
      client.sendMethod(1, { name: "confirm.select", nowait: false });
      await client.expect("confirm.select-ok", 1);
      let published = 0;
      const publish = () => {
        client.publish(1, "", queue, Buffer.from(`m${++published}`));
      };
      publish();
      await client.expect("basic.ack", 1);

      // A watermark far below what the process uses: the alarm is set at once.
      const set = await api(node.mgmtUrl, "PUT", "/api/warren/vm-memory-high-watermark", {
        absolute: 1_000_000,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const blocked = await client.expect("connection.blocked", 0, 5000);
      assert.equal(blocked.reason, "low on memory");

      // Blocked for five heartbeat intervals, publishing all along (the broker reads none
      // of it: it waits in the socket), with heartbeats from the broker still arriving.
      const heartbeatsBefore = client.heartbeatsReceived;
      const blockedAt = Date.now();
      while (Date.now() - blockedAt < 5000) {
        publish();
        await sleep(100);
      }
      const heartbeatsDuring = client.heartbeatsReceived - heartbeatsBefore;
      assert.equal(client.isClosed, false, "the blocked connection was kept");
      assert.ok(
        heartbeatsDuring >= 5,
        `heartbeats from the broker while blocked: ${heartbeatsDuring}`,
      );

      const cleared = await api(node.mgmtUrl, "PUT", "/api/warren/vm-memory-high-watermark", {
        relative: 0.9,
      });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      await client.expect("connection.unblocked", 0, 5000);

      // Every publish made while blocked is now read, enqueued and confirmed.
      let confirmedUpTo = 1;
      while (confirmedUpTo < published) {
        const ack = await client.expect("basic.ack", 1, 5000);
        confirmedUpTo = Number(ack.deliveryTag);
      }
      assert.equal(confirmedUpTo, published);
      client.sendMethod(1, {
        name: "queue.declare",
        queue,
        passive: true,
        durable: false,
        exclusive: false,
        autoDelete: false,
        noWait: false,
        arguments: new Map(),
      });
      const ok = await client.expect("queue.declare-ok", 1);
      assert.equal(ok.messageCount, published);
      assert.equal(client.isClosed, false);
    } finally {
      clearInterval(beat);
      client.destroy();
    }
  });
});
