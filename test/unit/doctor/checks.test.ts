import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AmqpConnection } from "../../../src/connection/amqp-connection.js";
import { connectionChurn } from "../../../src/doctor/checks/connection-churn.js";
import { eventLoopStalls } from "../../../src/doctor/checks/event-loop-stalls.js";
import { expiredQueues, isTransientQueue } from "../../../src/doctor/checks/expired-queues.js";
import { missedHeartbeats } from "../../../src/doctor/checks/missed-heartbeats.js";
import { stalledConsumers } from "../../../src/doctor/checks/queue-backlogs.js";
import {
  activeAlarms,
  descriptorHeadroom,
  eventLoopDelay,
} from "../../../src/doctor/checks/resources.js";
import { allChecks, runDoctor } from "../../../src/doctor/doctor.js";
import type { Check, DoctorInput } from "../../../src/doctor/finding.js";
import { type ConnectionEvent, History } from "../../../src/doctor/history.js";
import { reportText } from "../../../src/doctor/report-text.js";
import { takeSample } from "../../../src/doctor/sampler.js";
import type { Broker } from "../../../src/vhost/broker.js";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker } from "../../support/mgmt-context.js";

const NOW = 1_800_000_000_000;

function input(broker: Broker, over: Partial<DoctorInput> = {}): DoctorInput {
  return {
    nowMs: NOW,
    broker,
    connections: [...broker.connections] as AmqpConnection[],
    history: new History(),
    fds: { used: 40, limit: 1024, socketsUsed: 0, socketsLimit: 831 },
    alarms: [],
    eventLoopDelay: { meanMs: 1, p50Ms: 1, p99Ms: 5, maxMs: 8 },
    windowMs: 600_000,
    ...over,
  };
}

function closed(atMs: number, peerHost: string, reason: string): ConnectionEvent {
  return {
    atMs,
    kind: "closed",
    name: `${peerHost}:1234 -> 127.0.0.1:5672`,
    peerHost,
    user: "nova",
    vhost: "/",
    reason,
    missedHeartbeats: reason.startsWith("missed heartbeats"),
  };
}

const hb = "missed heartbeats from client, timeout: 60s";

describe("missed heartbeats", () => {
  test("one host: a warning that points at that client", () => {
    const history = new History();
    history.recordConnection(closed(NOW - 1000, "10.0.0.12", hb));
    const [f] = missedHeartbeats.run(input(memoryBroker(), { history }));
    assert.equal(f!.severity, "warning");
    assert.match(f!.remedy, /^Only 10\.0\.0\.12 is affected/);
    assert.match(f!.evidence.join("\n"), /negotiated heartbeat timeout: 60s/);
  });

  test("several hosts: critical, pointing at what they share", () => {
    const history = new History();
    history.recordConnection(closed(NOW - 3000, "10.0.0.12", hb));
    history.recordConnection(closed(NOW - 2000, "10.0.0.13", hb));
    const [f] = missedHeartbeats.run(input(memoryBroker(), { history }));
    assert.equal(f!.severity, "critical");
    assert.match(f!.remedy, /Several hosts are affected/);
  });

  test("a blocked broker is named as the likelier cause", () => {
    const history = new History();
    history.recordConnection(closed(NOW - 1000, "10.0.0.12", hb));
    const [f] = missedHeartbeats.run(
      input(memoryBroker(), {
        history,
        eventLoopDelay: { meanMs: 400, p50Ms: 10, p99Ms: 2500, maxMs: 4000 },
      }),
    );
    assert.match(f!.remedy, /The broker itself was busy/);
  });

  test("closes older than the window and other reasons do not count", () => {
    const history = new History();
    history.recordConnection(closed(NOW - 700_000, "10.0.0.12", hb));
    history.recordConnection(closed(NOW - 1000, "10.0.0.12", "client closed: 200 OK"));
    assert.deepEqual(missedHeartbeats.run(input(memoryBroker(), { history })), []);
  });
});

describe("event-loop stalls", () => {
  const purge = {
    atMs: NOW - 60_000,
    durationMs: 13_900,
    cpuMs: 13_850,
    during:
      "input from connection 10.0.0.5:4000 -> 127.0.0.1:5672 (user 'admin', last command: queue.purge) (13900 ms)",
  };
  const hb5 = "missed heartbeats from client, timeout: 5s";

  test("missed heartbeats after a long stall are put down to the broker, with what it was doing", () => {
    const history = new History();
    for (const host of ["10.0.0.12", "10.0.0.13", "127.0.0.1"])
      history.recordConnection(closed(purge.atMs + purge.durationMs + 200, host, hb5));
    const [f] = missedHeartbeats.run(input(memoryBroker(), { history, stalls: [purge] }));
    assert.match(
      f!.evidence.join("\n"),
      /the broker itself stalled for 13\.9 s .* while input from connection .*queue\.purge/,
    );
    assert.match(f!.remedy, /^The broker stalled/);
    assert.doesNotMatch(f!.remedy, /look at that client|Several hosts/);
  });

  test("a stall long before the closes does not excuse them", () => {
    const history = new History();
    history.recordConnection(closed(NOW - 1000, "10.0.0.12", hb5));
    const [f] = missedHeartbeats.run(input(memoryBroker(), { history, stalls: [purge] }));
    assert.match(f!.remedy, /^Only 10\.0\.0\.12 is affected/);
  });

  test("the stalls check names the longest pause, its cause, and the connections it cost", () => {
    const history = new History();
    history.recordConnection(
      closed(
        purge.atMs + purge.durationMs + 3000,
        "10.0.0.12",
        "client unexpectedly closed TCP connection",
      ),
    );
    const short = {
      atMs: NOW - 5000,
      durationMs: 140,
      cpuMs: 135,
      during: "garbage collection (120 ms)",
    };
    const [f] = eventLoopStalls.run(input(memoryBroker(), { history, stalls: [purge, short] }));
    assert.equal(f!.severity, "critical");
    assert.match(f!.title, /the broker stalled for 13\.9 s and 1 connection dropped after it/);
    assert.match(f!.evidence.join("\n"), /also: 0\.1 s .* garbage collection/);
    const [g] = eventLoopStalls.run(input(memoryBroker(), { stalls: [short] }));
    assert.equal(g!.severity, "warning");
    assert.deepEqual(eventLoopStalls.run(input(memoryBroker(), { stalls: [] })), []);
  });
});

describe("connection churn", () => {
  function churn(n: number, hosts: string[], ageMs = 1000): History {
    const history = new History();
    for (let i = 0; i < n; i++) {
      const peerHost = hosts[i % hosts.length]!;
      history.recordConnection({
        ...closed(NOW - ageMs, peerHost, ""),
        kind: "opened",
        reason: "",
      });
      history.recordConnection(
        closed(NOW - ageMs, peerHost, "client unexpectedly closed TCP connection"),
      );
    }
    return history;
  }

  test("below 30 a minute is quiet", () => {
    assert.deepEqual(
      connectionChurn.run(input(memoryBroker(), { history: churn(20, ["10.0.0.9"]) })),
      [],
    );
  });

  test("30 or more a minute from one host is a warning naming the host", () => {
    const [f] = connectionChurn.run(input(memoryBroker(), { history: churn(35, ["10.0.0.9"]) }));
    assert.equal(f!.severity, "warning");
    assert.match(
      f!.title,
      /35 connections opened and closed per minute \(mostly from 10\.0\.0\.9\)/,
    );
    assert.match(f!.evidence.join("\n"), /client unexpectedly closed TCP connection \(35\)/);
  });

  test("hundreds a minute from many hosts is critical and points at a shared cause", () => {
    const hosts = Array.from({ length: 10 }, (_, i) => `10.0.1.${i}`);
    const [f] = connectionChurn.run(input(memoryBroker(), { history: churn(400, hosts) }));
    assert.equal(f!.severity, "critical");
    assert.match(f!.remedy, /Many hosts reconnect at once/);
    assert.match(f!.evidence.join("\n"), /and 5 more hosts/);
  });

  test("a node filling up with new long-lived connections is not churning (831 opens, 1 close)", () => {
    const history = new History();
    for (let i = 0; i < 831; i++) {
      history.recordConnection({ ...closed(NOW - 1000, `10.0.2.${i % 50}`, ""), kind: "opened" });
    }
    history.recordConnection(
      closed(NOW - 500, "10.0.2.7", "client unexpectedly closed TCP connection"),
    );
    assert.deepEqual(connectionChurn.run(input(memoryBroker(), { history })), []);
  });

  test("clients that all leave at once are not churning either", () => {
    const history = new History();
    for (let i = 0; i < 500; i++) {
      history.recordConnection(closed(NOW - 1000, `10.0.3.${i % 20}`, "connection.close"));
    }
    assert.deepEqual(connectionChurn.run(input(memoryBroker(), { history })), []);
  });

  test("churn counts the connections that both came and went: 400 opens and 320 closes is critical", () => {
    const history = churn(320, ["10.0.4.1"]);
    for (let i = 0; i < 80; i++) {
      history.recordConnection({ ...closed(NOW - 1000, "10.0.4.1", ""), kind: "opened" });
    }
    const [f] = connectionChurn.run(input(memoryBroker(), { history }));
    assert.equal(f!.severity, "critical");
    assert.match(f!.title, /320 connections opened and closed per minute/);
    assert.match(f!.evidence.join("\n"), /400 connections opened, 320 closed/);
  });

  test("only the last minute counts", () => {
    assert.deepEqual(
      connectionChurn.run(input(memoryBroker(), { history: churn(100, ["h"], 90_000) })),
      [],
    );
  });
});

describe("file descriptors and alarms", () => {
  const fds = (used: number, limit: number) => ({
    used,
    limit,
    socketsUsed: 0,
    socketsLimit: 1000,
  });

  test("under 20% free is a warning, under 5% critical, with rabbitmqctl's term as evidence", () => {
    assert.deepEqual(descriptorHeadroom.run(input(memoryBroker(), { fds: fds(700, 1000) })), []);
    const [w] = descriptorHeadroom.run(input(memoryBroker(), { fds: fds(850, 1000) }));
    assert.equal(w!.severity, "warning");
    assert.equal(w!.title, "only 15% of file descriptors are free");
    assert.match(w!.evidence[0]!, /^\{file_descriptors,\[\{total_limit,1000\},\{total_used,850\}/);
    const [c] = descriptorHeadroom.run(input(memoryBroker(), { fds: fds(990, 1000) }));
    assert.equal(c!.severity, "critical");
  });

  test("sockets near their own limit count too; unknown limits are not judged", () => {
    const [f] = descriptorHeadroom.run(
      input(memoryBroker(), {
        fds: { used: 100, limit: 10000, socketsUsed: 950, socketsLimit: 1000 },
      }),
    );
    assert.ok(f);
    assert.deepEqual(descriptorHeadroom.run(input(memoryBroker(), { fds: fds(-1, -1) })), []);
  });

  test("every alarm in effect is critical", () => {
    const alarms = [
      { resource: "message_store" as const, node: "warren@h", reason: "fdatasync failed: EIO" },
    ];
    const [f] = activeAlarms.run(input(memoryBroker(), { alarms }));
    assert.equal(f!.severity, "critical");
    assert.equal(f!.title, "alarm in effect: message_store");
    assert.match(f!.remedy, /disk/);
  });

  test("a blocked event loop is reported", () => {
    const [f] = eventLoopDelay.run(
      input(memoryBroker(), {
        eventLoopDelay: { meanMs: 300, p50Ms: 5, p99Ms: 1500, maxMs: 3000 },
      }),
    );
    assert.match(f!.title, /p99 1500 ms/);
  });
});

describe("queues", () => {
  function declare(client: InProcessClient, queue: string, args = new Map()) {
    client.method(1, {
      name: "queue.declare",
      queue,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      noWait: false,
      arguments: args,
    });
  }

  test("a queue unused past its x-expires is overdue; an old reply queue without expiry is abandoned", () => {
    let now = NOW - 3 * 3600_000;
    const broker = memoryBroker(() => now);
    const client = new InProcessClient(broker);
    client.handshake();
    client.openChannel(1);
    declare(client, "short-lived", new Map([["x-expires", { type: "I", value: 60_000 }]]));
    declare(client, "reply_abandoned");
    now = NOW;
    const findings = expiredQueues((q) => q.settings.expiresMs).run(input(broker));
    assert.equal(findings.length, 2);
    assert.match(
      findings[0]!.evidence[0]!,
      /queue 'short-lived' .* unused for 180 min, 0 messages, expires after 60 s/,
    );
    assert.equal(findings[0]!.severity, "critical");
    assert.match(findings[1]!.evidence[0]!, /queue 'reply_abandoned'/);
    assert.match(findings[1]!.remedy, /set_policy expiry/);
  });

  test("transient queues: RPC replies, server-named and oslo.messaging fanout queues; others are not", () => {
    for (const name of [
      "reply_8f3c1d",
      "amq.gen-JzTY20BRgKO",
      "compute_fanout_8c4e0a4f59a54a7c9d1f",
      "q-agent-notifier-port-update_fanout_3f2a9c",
    ])
      assert.ok(isTransientQueue(name), name);
    for (const name of ["compute", "orders", "notifications.info", "fanout_events"])
      assert.ok(!isTransientQueue(name), name);
  });

  test("growth with consumers that acknowledge nothing is stalled; with acks but too slow, falling behind", () => {
    const broker = memoryBroker(() => NOW);
    const client = new InProcessClient(broker);
    client.handshake();
    client.openChannel(1);
    declare(client, "work");
    client.method(1, { name: "basic.qos", prefetchSize: 0, prefetchCount: 1, global: false });
    client.method(1, {
      name: "basic.consume",
      queue: "work",
      consumerTag: "slow",
      noLocal: false,
      noAck: false,
      exclusive: false,
      noWait: false,
      arguments: new Map(),
    });
    const history = new History();
    history.record(takeSample(broker, NOW - 30_000, 1, 40));
    for (let i = 0; i < 20; i++) client.publish(1, "", "work", "job");
    const [stalled] = stalledConsumers.run(input(broker, { history }));
    assert.equal(stalled!.severity, "critical");
    assert.match(stalled!.evidence.join("\n"), /grew by 20 to 20 messages in 30 s/);
    assert.match(
      stalled!.evidence.join("\n"),
      /consumer 'slow' from 127\.0\.0\.1:40000: 1 unacknowledged, prefetch 1/,
    );

    // Ack one delivery (progress), then a burst of 150 more: falling behind, a warning.
    client.pump();
    client.method(1, { name: "basic.ack", deliveryTag: 1, multiple: false });
    for (let i = 0; i < 150; i++) client.publish(1, "", "work", "job");
    const [behind] = stalledConsumers.run(input(broker, { history }));
    assert.equal(behind!.severity, "warning");
    assert.match(behind!.title, /consumers fall behind/);
  });
});

describe("the doctor", () => {
  test("a healthy broker: every check ok, no findings", () => {
    const report = runDoctor(input(memoryBroker()));
    assert.equal(report.healthy, true);
    assert.equal(report.status, "ok");
    assert.deepEqual(
      report.checks.map((c) => c.id),
      allChecks().map((c) => c.id),
    );
    assert.match(reportText(report), /no problems found/);
  });

  test("a check that throws is reported as a finding and the others still run", () => {
    const broken: Check = {
      id: "broken",
      description: "always fails",
      run() {
        throw new Error("boom");
      },
    };
    const report = runDoctor(input(memoryBroker()), [broken, ...allChecks()]);
    assert.equal(report.findings[0]!.title, "the broken check failed: boom");
    assert.equal(report.checks.length, allChecks().length + 1);
  });

  test("the text report shows the severity, evidence and remedy of each finding", () => {
    const report = runDoctor(
      input(memoryBroker(), {
        alarms: [{ resource: "message_store", node: "warren@h", reason: "disk full" }],
      }),
    );
    const text = reportText(report);
    assert.match(text, /1 problem found/);
    assert.match(text, /CRITICAL {2}\[alarms\] alarm in effect: message_store/);
    assert.match(text, /evidence:\n {4}- node warren@h: disk full/);
    assert.match(text, /remedy:\n {4}The message log could not write/);
    assert.match(text, /critical alarms/);
  });
});

describe("history", () => {
  test("keeps samples for the retention time and gives per-second rates", () => {
    const broker = memoryBroker();
    const h = new History(60_000);
    const a = takeSample(broker, NOW - 120_000, 0, 1);
    h.record(a);
    h.record({
      ...takeSample(broker, NOW - 10_000, 0, 1),
      counters: { ...a.counters, messagesPublished: 0 },
    });
    h.record({
      ...takeSample(broker, NOW, 0, 1),
      counters: { ...a.counters, messagesPublished: 50 },
    });
    assert.equal(h.samplesSince(0).length, 2, "the sample older than a minute is gone");
    assert.equal(h.counterRate("messagesPublished"), 5);
  });
});
