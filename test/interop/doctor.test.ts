import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DoctorReport } from "../../src/doctor/doctor.js";
import { type Connection, connect, sleep, withTimeout } from "../support/amqplib-helpers.js";
import { type MgmtBroker, startMgmtBroker, warrenctl } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { warrenOnly } from "../support/warren-only.js";

// warrenctl doctor against conditions created for real: each seed failure
// signature is produced with real clients, then the finding is asserted with its
// evidence. A healthy node gets a clean report and exit status 0.

const skip = warrenOnly("runs the doctor of a Warren it starts");

async function doctor(
  node: MgmtBroker,
): Promise<{ report: DoctorReport; exitCode: number; text: string }> {
  const json = await warrenctl(node.mgmtUrl, ["doctor", "--json"]);
  const text = await warrenctl(node.mgmtUrl, ["doctor"]);
  assert.equal(json.exitCode, text.exitCode);
  return { report: JSON.parse(json.stdout), exitCode: json.exitCode, text: text.stdout };
}

function finding(report: DoctorReport, check: string) {
  const f = report.findings.find((x) => x.check === check);
  assert.ok(f, `no ${check} finding in ${JSON.stringify(report.findings, null, 2)}`);
  return f;
}

/** Runs a test on its own node, for the checks that read the node's recent history. */
async function withNode(
  fn: (node: MgmtBroker) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const node = await startMgmtBroker({ args });
  try {
    await fn(node);
  } finally {
    await node.stop();
  }
}

describe("warrenctl doctor on conditions created for real", { skip }, () => {
  let shared: MgmtBroker;
  let conn: Connection;

  before(async () => {
    if (skip) return;
    shared = await startMgmtBroker();
    conn = await connect(shared.broker.url);
  });

  after(async () => {
    await conn?.close().catch(() => {});
    await shared?.stop();
  });

  test("a healthy broker with working clients gets a clean report and exit 0", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("healthy-work", { durable: false });
    let got = 0;
    await ch.consume("healthy-work", (m) => {
      if (m) {
        got++;
        ch.ack(m);
      }
    });
    for (let i = 0; i < 20; i++) ch.sendToQueue("healthy-work", Buffer.from("job"));
    await withTimeout(
      (async () => {
        while (got < 20) await sleep(20);
      })(),
      5000,
      "all jobs consumed",
    );
    const { report, exitCode, text } = await doctor(shared);
    assert.deepEqual(report.findings, []);
    assert.equal(report.healthy, true);
    assert.equal(exitCode, 0);
    assert.match(text, /no problems found/);
    assert.ok(report.checks.every((c) => c.status === "ok"));
    assert.ok(report.checks.length >= 10);
    await ch.deleteQueue("healthy-work");
    await ch.close();
  });

  test("an RPC reply queue with replies and no consumer is critical (seed 000)", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("reply_8f3c1d", { durable: false });
    for (let i = 0; i < 3; i++) ch.sendToQueue("reply_8f3c1d", Buffer.from("result"));
    await ch.checkQueue("reply_8f3c1d");
    const { report, exitCode, text } = await doctor(shared);
    const f = finding(report, "rpc-reply-queues");
    assert.equal(f.severity, "critical");
    assert.match(f.title, /queue 'reply_8f3c1d' in vhost '\/' holds 3 replies and has no consumer/);
    assert.match(f.remedy, /MessagingTimeout/);
    assert.equal(exitCode, 2);
    assert.match(text, /CRITICAL {2}\[rpc-reply-queues\]/);
    await ch.deleteQueue("reply_8f3c1d");
    await ch.close();
  });

  test("requests whose reply_to queue does not exist are reported", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("compute", { durable: false });
    ch.sendToQueue("compute", Buffer.from("build vm"), {
      replyTo: "reply_gone",
      correlationId: "1",
    });
    await ch.checkQueue("compute");
    const { report } = await doctor(shared);
    const f = report.findings.find((x) => /name reply queues that do not exist/.test(x.title));
    assert.ok(f, JSON.stringify(report.findings));
    assert.match(f.evidence.join("\n"), /reply_to 'reply_gone': 1 waiting in compute/);
    await ch.deleteQueue("compute");
    await ch.close();
  });

  test("a reply queue growing while its consumer acknowledges nothing is a stalled consumer", async () => {
    const caller = await connect(shared.broker.url);
    const stuck = await caller.createChannel();
    await stuck.assertQueue("reply_stuck", { durable: false });
    await stuck.prefetch(1);
    await stuck.consume("reply_stuck", () => {}, { consumerTag: "stuck-caller" }); // never acks
    const ch = await conn.createChannel();
    for (let i = 0; i < 30; i++) ch.sendToQueue("reply_stuck", Buffer.from("reply"));
    await ch.checkQueue("reply_stuck");
    await sleep(1100);
    const { report } = await doctor(shared);
    const f = finding(report, "stalled-consumers");
    assert.equal(f.severity, "critical");
    assert.match(
      f.title,
      /queue 'reply_stuck' in vhost '\/' is growing while its 1 consumer acknowledge nothing/,
    );
    const evidence = f.evidence.join("\n");
    assert.match(evidence, /grew by 30 to 30 messages/);
    assert.match(
      evidence,
      /consumer 'stuck-caller' from 127\.0\.0\.1:\d+: 1 unacknowledged, prefetch 1/,
    );
    assert.match(f.remedy, /RPC reply queue/);
    await caller.close();
    await ch.deleteQueue("reply_stuck");
    await ch.close();
  });

  test("a message nacked with requeue again and again is a poison loop", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("orders", { durable: false });
    ch.sendToQueue("orders", Buffer.from("poison"), { messageId: "bad-1" });
    let deliveries = 0;
    const { consumerTag } = await ch.consume("orders", (m) => {
      if (!m) return;
      deliveries++;
      ch.nack(m, false, true);
    });
    await withTimeout(
      (async () => {
        while (deliveries < 50) await sleep(10);
      })(),
      10_000,
      "50 redeliveries",
    );
    const { report } = await doctor(shared);
    const f = finding(report, "poison-messages");
    assert.match(f.title, /1 message redelivered \d+ times: a poison message loop/);
    assert.match(f.evidence[0]!, /in queue 'orders' \(vhost '\/'\): delivered \d+ times/);
    assert.match(f.remedy, /delivery limit/);
    await ch.cancel(consumerTag);
    await ch.deleteQueue("orders");
    await ch.close();
  });

  test("after the conditions are gone, the state checks are clean again", async () => {
    const { report } = await doctor(shared);
    const stateChecks = ["rpc-reply-queues", "stalled-consumers", "poison-messages"];
    assert.deepEqual(
      report.findings.filter((f) => stateChecks.includes(f.check)),
      [],
    );
  });

  test("missed heartbeats: a client that goes silent is dropped and reported with its host (seed 001)", async () => {
    await withNode(async (node) => {
      const { client } = await RawAmqpClient.open(node.broker.host, node.broker.port, {
        heartbeatSec: 1,
      });
      try {
        await client.waitClosed(6000);
      } finally {
        client.destroy();
      }
      const { report, exitCode } = await doctor(node);
      const f = finding(report, "missed-heartbeats");
      assert.equal(f.title, "1 connection dropped for missed heartbeats");
      assert.match(f.evidence.join("\n"), /from 127\.0\.0\.1 \(1\)/);
      assert.match(f.evidence.join("\n"), /negotiated heartbeat timeout: 1s/);
      assert.match(f.remedy, /Only 127\.0\.0\.1 is affected/);
      assert.notEqual(exitCode, 0);
      // The structured log carries the line operators grep for (seed 001, step 1).
      const line = await node.broker.waitForLog((l) =>
        /missed heartbeats from client/.test(String(l.msg)),
      );
      assert.equal(line.level, 50);
      assert.equal(line.peer !== undefined, true);
      // And Prometheus counts it, so an alert can fire on the rate.
      const metrics = await (await fetch(`${node.metricsUrl}/metrics`)).text();
      assert.match(metrics, /^warren_missed_heartbeat_closes_total 1$/m);
    });
  });

  test("connection churn: many short-lived connections from one host", async () => {
    await withNode(async (node) => {
      for (let i = 0; i < 40; i++) {
        const c = await connect(node.broker.url);
        await c.close();
      }
      const { report } = await doctor(node);
      const f = finding(report, "connection-churn");
      assert.match(
        f.title,
        /connection churn: 4\d connections opened and closed per minute \(mostly from 127\.0\.0\.1\)/,
      );
      assert.match(f.evidence.join("\n"), /closes by host: 127\.0\.0\.1 \(4\d\)/);
      assert.match(f.remedy, /Most of it comes from 127\.0\.0\.1/);
    });
  });

  test("unroutable publishes are reported per exchange", async () => {
    await withNode(async (node) => {
      const c = await connect(node.broker.url);
      const ch = await c.createChannel();
      await ch.assertExchange("events", "topic", { durable: false });
      for (let i = 0; i < 5; i++) ch.publish("events", "nobody.listens", Buffer.from("e"));
      await ch.checkExchange("events");
      const { report } = await doctor(node);
      const f = finding(report, "unroutable");
      assert.equal(f.title, "5 messages routed to no queue in the last 10 min");
      assert.match(f.evidence[0]!, /exchange 'events' in vhost '\/': 5 unroutable/);
      assert.match(f.remedy, /alternate-exchange/);
      await c.close();
    });
  });

  test("abandoned reply and fanout queues with no consumer are reported (seed 003); an expires policy removes them", async () => {
    await withNode(async (node) => {
      const c = await connect(node.broker.url);
      const ch = await c.createChannel();
      const fanout = "q-agent-notifier-port-update_fanout_3f2a9c";
      await ch.assertQueue("reply_0a1b2c", { durable: false });
      await ch.assertQueue(fanout, { durable: false });
      await ch.assertQueue("plain-work", { durable: false });
      await ch.assertQueue("reply_alive", { durable: false });
      await ch.consume("reply_alive", () => {});
      for (let i = 0; i < 3; i++) ch.sendToQueue(fanout, Buffer.from("port update"));
      await ch.checkQueue(fanout);
      await sleep(1500);

      // The default threshold is an hour: nothing yet.
      const hourly = await doctor(node);
      assert.equal(
        hourly.report.findings.find((f) => f.check === "expired-queues"),
        undefined,
      );
      const json = await warrenctl(node.mgmtUrl, [
        "doctor",
        "--json",
        "--abandoned-minutes",
        "0.02",
      ]);
      const report = JSON.parse(json.stdout) as DoctorReport;
      const f = finding(report, "expired-queues");
      assert.equal(f.severity, "warning");
      assert.equal(f.title, "2 reply, fanout or server-named queue(s) abandoned for over 1 s");
      const evidence = f.evidence.join("\n");
      assert.match(evidence, /queue 'reply_0a1b2c' in vhost '\/': unused for \d s, 0 messages/);
      assert.match(
        evidence,
        new RegExp(`queue '${fanout}' in vhost '/': unused for \\d s, 3 messages`),
      );
      assert.doesNotMatch(evidence, /plain-work|reply_alive/);
      assert.match(f.remedy, /set_policy expiry/);
      assert.equal(json.exitCode, 1, "warnings only: exit 1");

      // The remedy the finding gives: an expires policy, and the broker deletes them.
      const set = await warrenctl(node.mgmtUrl, [
        "set_policy",
        "expiry",
        "^(reply_|amq\\.gen-)|_fanout_",
        '{"expires":1000}',
        "--apply-to",
        "queues",
      ]);
      assert.equal(set.exitCode, 0, set.stderr);
      await node.broker.waitForLog((l) =>
        String(l.msg).startsWith(`queue '${fanout}' in vhost '/' expired`),
      );
      await node.broker.waitForLog((l) =>
        String(l.msg).startsWith("queue 'reply_0a1b2c' in vhost '/' expired"),
      );
      const after = await warrenctl(node.mgmtUrl, [
        "doctor",
        "--json",
        "--abandoned-minutes",
        "0.02",
      ]);
      assert.equal(
        (JSON.parse(after.stdout) as DoctorReport).findings.find(
          (x) => x.check === "expired-queues",
        ),
        undefined,
      );
      const names = await warrenctl(node.mgmtUrl, [
        "-q",
        "list_queues",
        "name",
        "--no-table-headers",
      ]);
      assert.deepEqual(names.stdout.trim().split("\n").sort(), ["plain-work", "reply_alive"]);
      await c.close();
    });
  });

  test("a memory alarm is critical, fails check_local_alarms and shows in the metrics (seed 004)", async () => {
    // A watermark below what any process uses: the resource monitor sets the alarm at once.
    await withNode(
      async (node) => {
        await node.broker.waitForLog((l) => /memory resource limit alarm set/.test(String(l.msg)));
        const { report, exitCode } = await doctor(node);
        const f = finding(report, "alarms");
        assert.equal(f.title, "alarm in effect: memory");
        assert.match(
          f.evidence[0]!,
          /memory used \d+ bytes, above the high watermark of 1000000 bytes/,
        );
        assert.equal(exitCode, 2);
        const check = await warrenctl(node.mgmtUrl, ["check_local_alarms"]);
        assert.equal(check.exitCode, 69);
        assert.match(check.stderr, /memory: memory used/);
        const metrics = await (await fetch(`${node.metricsUrl}/metrics`)).text();
        assert.match(metrics, /^rabbitmq_alarms_memory_used_watermark 1$/m);
        assert.match(metrics, /^rabbitmq_resident_memory_limit_bytes 1000000$/m);
      },
      ["--vm-memory-high-watermark", "1MB"],
    );
  });

  test("file descriptors: under 20% headroom is reported with rabbitmqctl's numbers (seed 001)", async () => {
    // ulimit -n 200: sockets get what the node's reserve for files leaves (status shows it).
    const node = await startMgmtBroker({ maxOpenFiles: 200 });
    const conns: Connection[] = [];
    try {
      const before = JSON.parse(
        (await warrenctl(node.mgmtUrl, ["status", "--formatter", "json"])).stdout,
      );
      const allowance: number = before.file_descriptors.sockets_limit;
      assert.equal(allowance, 200 - before.file_descriptors.reserved_for_files.total);
      // Leave 10% of the allowance free (a warning, not yet critical).
      const open = allowance - Math.ceil(allowance * 0.1);
      while (conns.length < open) conns.push(await connect(node.broker.url));
      const { report } = await doctor(node);
      const f = finding(report, "file-descriptors");
      assert.match(f.title, /^only \d+% of file descriptors are free$/);
      assert.equal(f.severity, "warning");
      assert.match(
        f.evidence[0]!,
        new RegExp(
          `^\\{file_descriptors,\\[\\{total_limit,200\\},\\{total_used,\\d+\\},\\{sockets_limit,${allowance}\\},\\{sockets_used,${open}\\}\\]\\}$`,
        ),
      );
      assert.match(f.remedy, /LimitNOFILE/);
      const status = JSON.parse(
        (await warrenctl(node.mgmtUrl, ["status", "--formatter", "json"])).stdout,
      );
      assert.deepEqual(
        {
          limit: status.file_descriptors.total_limit,
          sockets: status.file_descriptors.sockets_used,
        },
        { limit: 200, sockets: open },
      );
    } finally {
      for (const c of conns) await c.close().catch(() => {});
      await node.stop();
    }
  });
});
