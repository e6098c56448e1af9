import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect, sleep, take, withTimeout } from "../support/amqplib-helpers.js";
import { startBroker } from "../support/broker-process.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { TcpProxy } from "../support/tcp-proxy.js";

const skip = process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("seed 001's causes, reproduced on purpose", { skip }, () => {
  test("a busy broker keeps sending heartbeats and keeps a healthy idle client", async () => {
    const broker = await startBroker();
    const { client: idle } = await RawAmqpClient.open(broker.host, broker.port, {
      heartbeatSec: 1,
    });
    // The idle client does its part: a heartbeat every 400 ms.
    const beat = setInterval(() => idle.sendHeartbeat(), 400);
    const arrivals: number[] = [];
    let seen = idle.heartbeatsReceived;
    const watch = setInterval(() => {
      if (idle.heartbeatsReceived !== seen) {
        seen = idle.heartbeatsReceived;
        arrivals.push(Date.now());
      }
    }, 20);
    // Load: three publishers flooding 1 KiB messages through a queue with a consumer.
    const load = await connect(broker.url);
    const consumerCh = await load.createChannel();
    const { queue } = await consumerCh.assertQueue("", { exclusive: true });
    let delivered = 0;
    await consumerCh.consume(queue, () => delivered++, { noAck: true });
    const publishers = await Promise.all([1, 2, 3].map(() => connect(broker.url)));
    const until = Date.now() + 5000;
    await Promise.all(
      publishers.map(async (p) => {
        const ch = await p.createChannel();
        const body = Buffer.alloc(1024);
        while (Date.now() < until) {
          for (let i = 0; i < 200; i++) ch.sendToQueue(queue, body);
          await new Promise((r) => setImmediate(r));
        }
      }),
    );
    clearInterval(beat);
    clearInterval(watch);
    assert.ok(delivered > 10_000, `the broker was busy: ${delivered} deliveries`);
    assert.equal(idle.isClosed, false, "the idle client was not disconnected");
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    assert.ok(
      arrivals.length >= 6,
      `heartbeats kept arriving: ${arrivals.length}, gaps ${gaps.join(",")}`,
    );
    assert.ok(
      Math.max(...gaps) < 1500,
      `longest gap between the broker's heartbeats: ${Math.max(...gaps)} ms`,
    );
    idle.destroy();
    for (const p of [...publishers, load]) await p.close();
    await broker.stop();
  });

  test("with a low descriptor limit, extra connections are refused and existing ones keep working", async () => {
    const broker = await startBroker({ maxOpenFiles: 150 });
    const existing = await connect(broker.url);
    const ch = await existing.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    // Far more sockets than 150 descriptors allow.
    const sockets: net.Socket[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const s = net.connect(broker.port, broker.host);
        sockets.push(s);
        s.on("error", () => {});
        await new Promise((r) => s.once("connect", r));
        s.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1"));
        return new Promise<"served" | "refused">((resolve) => {
          s.once("data", () => resolve("served"));
          s.once("close", () => resolve("refused"));
        });
      }),
    );
    const refused = outcomes.filter((o) => o === "refused").length;
    assert.ok(refused > 0, "some were refused");
    assert.ok(refused < 120, "some were served");
    ch.sendToQueue(queue, Buffer.from("still fine"));
    const [m] = await take(ch, queue, 1, { noAck: true });
    assert.equal(m!.content.toString(), "still fine");
    await broker.waitForLog((l) => String(l.msg).includes("file descriptors near the limit"), 3000);
    for (const s of sockets) s.destroy();
    await existing.close();
    await broker.stop();
  });

  test("under a memory alarm publishers get connection.blocked while consumers keep draining", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warren-alarm-"));
    dirs.push(dir);
    let broker = await startBroker({ dataDir: dir });
    const setup = await connect(broker.url);
    const sch = await setup.createConfirmChannel();
    await sch.assertQueue("backlog", { durable: true });
    for (let i = 0; i < 100; i++)
      sch.sendToQueue("backlog", Buffer.from(String(i)), { persistent: true });
    await sch.waitForConfirms();
    await setup.close();
    await broker.stop();
    // The same data, with a high watermark far below what the process uses.
    broker = await startBroker({ dataDir: dir, args: ["--vm-memory-high-watermark", "1MB"] });
    await broker.waitForLog((l) => String(l.msg).includes("memory resource limit alarm set"), 5000);
    // Through a proxy, so the test can cut the publisher: a blocked connection cannot close cleanly.
    const proxy = new TcpProxy(broker.host, broker.port);
    const publisher = await connect(await proxy.start());
    publisher.on("error", () => {});
    const blocked = new Promise<string>((resolve) =>
      publisher.on("blocked", (reason: string) => resolve(reason)),
    );
    const pch = await publisher.createChannel();
    pch.on("error", () => {});
    pch.sendToQueue("backlog", Buffer.from("the publish that gets it blocked"));
    assert.equal(await withTimeout(blocked, 3000, "connection.blocked"), "low on memory");
    // Blocked: the broker reads nothing more from this connection.
    for (let i = 0; i < 10; i++) pch.sendToQueue("backlog", Buffer.from("held back by TCP"));
    const consumer = await connect(broker.url);
    const cch = await consumer.createChannel();
    await cch.prefetch(200);
    const drained = await take(cch, "backlog", 101);
    assert.deepEqual(
      drained.slice(0, 100).map((m) => Number(m.content.toString())),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(drained[100]!.content.toString(), "the publish that gets it blocked");
    for (const m of drained) cch.ack(m);
    await sleep(300);
    assert.equal(
      (await cch.checkQueue("backlog")).messageCount,
      0,
      "nothing was read after the block",
    );
    await consumer.close();
    await proxy.stop();
    await broker.stop();
  });
});
