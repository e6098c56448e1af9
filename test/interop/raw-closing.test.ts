import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DoctorReport } from "../../src/doctor/doctor.js";
import type { Method } from "../../src/protocol/generated/methods.js";
import { sleep } from "../support/amqplib-helpers.js";
import { assertBrokerStillServes } from "../support/broker-health.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { warrenOnly } from "../support/warren-only.js";

// The close handshakes with raw frames, where timing is ours to choose (issue 14 items 1
// and 2): a client's channel.close crossing the broker's channel.close, and who closes the
// socket after connection.close-ok. RabbitMQ gives the same answers (test:interop:rabbitmq).

let broker: BrokerUnderTest;
const clients: RawAmqpClient[] = [];

before(async () => {
  broker = await startBroker();
});

after(async () => {
  for (const c of clients) c.destroy();
  await broker?.stop();
});

async function open(heartbeatSec = 0, target = broker): Promise<RawAmqpClient> {
  const { client } = await RawAmqpClient.open(target.host, target.port, { heartbeatSec });
  clients.push(client);
  return client;
}

const channelClose: Method = {
  name: "channel.close",
  replyCode: 200,
  replyText: "Goodbye",
  classId: 0,
  methodId: 0,
};

const connectionClose: Method = {
  name: "connection.close",
  replyCode: 200,
  replyText: "Goodbye",
  classId: 0,
  methodId: 0,
};

describe("a client's channel.close crossing the broker's", () => {
  test("a publish to a missing exchange and channel.close sent together: the channel closes, channel 2 and the connection carry on", async () => {
    const c = await open();
    await c.openChannel(1);
    await c.openChannel(2);
    // Sent without waiting: the broker's 404 channel.close and the client's close cross.
    c.publish(1, "no-such-exchange", "k", Buffer.from("x"));
    c.sendMethod(1, channelClose);
    const brokersClose = await c.expectChannelClose(1);
    assert.equal(brokersClose.replyCode, 404);
    assert.equal(brokersClose.replyText, "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'");
    await c.expect("channel.close-ok", 1);
    // The client owes the close-ok for the broker's close, and sends it.
    c.sendMethod(1, { name: "channel.close-ok" });
    await c.sync(2);
    await c.openChannel(1);
    await c.sync(1);
    assert.equal(c.isClosed, false, "the connection is still open");
  });

  test("repeated 20 times on one connection, each on a fresh channel number, nothing else closes", async () => {
    const c = await open();
    await c.openChannel(1);
    for (let ch = 2; ch < 22; ch++) {
      await c.openChannel(ch);
      c.publish(ch, "no-such-exchange", "k", Buffer.from("x"));
      c.sendMethod(ch, channelClose);
      assert.equal((await c.expectChannelClose(ch)).replyCode, 404);
      await c.expect("channel.close-ok", ch);
      c.sendMethod(ch, { name: "channel.close-ok" });
    }
    await c.sync(1);
  });
});

describe("connection.close from the client", () => {
  test("close-ok, and the socket stays open for the client to close", async () => {
    const c = await open();
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    await sleep(500);
    assert.equal(c.isClosed, false, "the broker left the socket to the client");
    c.destroy();
    await assertBrokerStillServes(broker.url);
  });

  test("a second connection.close (two threads closing at once) gets close-ok too", async () => {
    const c = await open();
    c.sendMethod(0, connectionClose);
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    await c.expect("connection.close-ok", 0);
    // And one sent after the first close-ok arrived.
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    assert.equal(c.isClosed, false);
  });

  test("a client that never closes its socket loses it after the heartbeat timeout (2 s)", async () => {
    const c = await open(2);
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    const sentAt = Date.now();
    await c.waitClosed(15_000);
    const waitedMs = Date.now() - sentAt;
    assert.ok(waitedMs >= 1500, `closed after ${waitedMs} ms, before the 2 s timeout`);
  });
});

describe("after close-ok the connection is gone, though its socket waits for the client", {
  skip: warrenOnly("reads Warren's management API and log"),
}, () => {
  let node: MgmtBroker;

  before(async () => {
    node = await startMgmtBroker();
  });

  after(async () => {
    await node?.stop();
  });

  const get = async <T>(path: string) => (await api(node.mgmtUrl, "GET", path)).body as T;

  test("connections, channels, exclusive queues and the log say so at close-ok", async () => {
    const c = await open(0, node.broker);
    await c.openChannel(1);
    await c.declareQueue(1, "closing-excl", { exclusive: true });
    assert.equal((await get<unknown[]>("/api/connections")).length, 1);
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    await node.broker.waitForLog((l) =>
      String(l.msg).startsWith("connection closed: client closed: 200 Goodbye"),
    );
    assert.equal(c.isClosed, false, "the socket is still the client's");
    assert.deepEqual(await get<unknown[]>("/api/connections"), []);
    assert.deepEqual(await get<unknown[]>("/api/channels"), []);
    assert.deepEqual(await get<unknown[]>("/api/queues"), []);
    const status = await get<{ totals: { connection_count: number } }>("/api/warren/status");
    assert.equal(status.totals.connection_count, 0);
    c.destroy();
  });

  test("a client with heartbeat 1 that leaves its socket open is not a missed-heartbeat close", async () => {
    const c = await open(1, node.broker);
    c.sendMethod(0, connectionClose);
    await c.expect("connection.close-ok", 0);
    // No heartbeats from the client from now on; the broker closes the socket after 1 s.
    await c.waitClosed(10_000);
    await node.broker.waitForLog((l) =>
      /the client did not close it within 1 s of connection\.close-ok/.test(String(l.msg)),
    );
    const report = await get<DoctorReport>("/api/warren/doctor");
    assert.deepEqual(
      report.findings.filter((f) => f.check === "missed-heartbeats"),
      [],
    );
    const metrics = await (await fetch(`${node.metricsUrl}/metrics`)).text();
    assert.match(metrics, /^warren_missed_heartbeat_closes_total 0$/m);
  });
});
