import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Connection, connect, sleep, withTimeout } from "../support/amqplib-helpers.js";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// /metrics on the Prometheus port: rabbitmq_prometheus's metric names (so its
// Grafana dashboards and alert rules work) and Warren's own, with values checked
// against state the test created.

const skip = warrenOnly("scrapes Warren's metrics port");
let node: MgmtBroker;
const conns: Connection[] = [];

interface Scrape {
  readonly text: string;
  value(series: string): number;
  types: Map<string, string>;
}

async function scrape(path = "/metrics"): Promise<Scrape> {
  const res = await fetch(`${node.metricsUrl}${path}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return {
    text,
    types,
    value(series) {
      const v = values.get(series);
      assert.ok(v !== undefined, `no series ${series} in:\n${text}`);
      return v;
    },
  };
}

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  conns.push(await connect(node.broker.url), await connect(node.broker.url));
  const ch = await conns[0]!.createChannel();
  await ch.assertQueue("m-q", { durable: false });
  for (let i = 0; i < 5; i++) ch.sendToQueue("m-q", Buffer.from("12345678"));
  await ch.checkQueue("m-q");
  const worker = await conns[1]!.createChannel();
  await worker.prefetch(2);
  await worker.consume("m-q", () => {});
  await conns[1]!.createChannel();
  await sleep(100);
});

after(async () => {
  for (const c of conns) await c.close().catch(() => {});
  await node?.stop();
});

describe("Prometheus metrics", { skip }, () => {
  test("connections, channels, queues and consumers are counted as rabbitmq_prometheus names them", async () => {
    const m = await scrape();
    assert.equal(m.value("rabbitmq_connections"), 2);
    assert.equal(m.value("rabbitmq_channels"), 3);
    assert.equal(m.value("rabbitmq_queues"), 1);
    assert.equal(m.value("rabbitmq_consumers"), 1);
    assert.equal(m.types.get("rabbitmq_connections"), "gauge");
    assert.equal(m.types.get("rabbitmq_connections_opened_total"), "counter");
    assert.equal(m.value('rabbitmq_global_consumers{protocol="amqp091"}'), 1);
  });

  test("queue depth: ready, unacked and total, aggregated and per queue", async () => {
    const m = await scrape();
    assert.equal(m.value("rabbitmq_queue_messages_ready"), 3);
    assert.equal(m.value("rabbitmq_queue_messages_unacked"), 2);
    assert.equal(m.value("rabbitmq_queue_messages"), 5);
    assert.equal(m.value("rabbitmq_queue_messages_ready_bytes"), 24);
    assert.equal(m.value("rabbitmq_queue_consumers"), 1);
    assert.equal(m.value("rabbitmq_channel_messages_unacked"), 2);
    assert.equal(m.value("rabbitmq_consumer_prefetch"), 2);
    const p = await scrape("/metrics/per-object");
    assert.equal(p.value('rabbitmq_queue_messages_ready{vhost="/",queue="m-q"}'), 3);
    assert.equal(p.value('rabbitmq_queue_messages_unacked{vhost="/",queue="m-q"}'), 2);
  });

  test("connection churn counters follow opens and closes", async () => {
    const before = await scrape();
    const extra = await connect(node.broker.url);
    await extra.close();
    await sleep(50);
    const after = await scrape();
    assert.equal(
      after.value("rabbitmq_connections_opened_total"),
      before.value("rabbitmq_connections_opened_total") + 1,
    );
    assert.equal(
      after.value("rabbitmq_connections_closed_total"),
      before.value("rabbitmq_connections_closed_total") + 1,
    );
    assert.equal(
      after.value("rabbitmq_channels_opened_total") -
        before.value("rabbitmq_channels_opened_total"),
      0,
    );
  });

  test("process descriptors, memory and alarms: open_fds within max_fds, no alarm", async () => {
    const m = await scrape();
    const open = m.value("rabbitmq_process_open_fds");
    const max = m.value("rabbitmq_process_max_fds");
    assert.ok(open > 0 && open < max, `${open} of ${max}`);
    assert.equal(m.value("rabbitmq_process_open_tcp_sockets"), 2);
    // The socket allowance is the limit less the node's reserve for files, as status shows it.
    const status = (await api(node.mgmtUrl, "GET", "/api/warren/status")).body as {
      file_descriptors: { sockets_limit: number; reserved_for_files: { total: number } };
    };
    const fds = status.file_descriptors;
    assert.equal(m.value("rabbitmq_process_max_tcp_sockets"), fds.sockets_limit);
    assert.equal(fds.sockets_limit, max - fds.reserved_for_files.total);
    assert.ok(m.value("rabbitmq_process_resident_memory_bytes") > 10_000_000);
    for (const alarm of [
      "file_descriptor_limit",
      "free_disk_space_watermark",
      "memory_used_watermark",
    ]) {
      assert.equal(m.value(`rabbitmq_alarms_${alarm}`), 0);
    }
    assert.equal(m.value("warren_alarms_message_store"), 0);
  });

  test("identity and build info name the node", async () => {
    const m = await scrape();
    assert.match(
      m.text,
      /^rabbitmq_identity_info\{rabbitmq_node="warren@[^"]+",rabbitmq_cluster="warren@[^"]+"\} 1$/m,
    );
    assert.match(
      m.text,
      /^rabbitmq_build_info\{rabbitmq_version="3\.\d+\.\d+",.*product_name="Warren".*\} 1$/m,
    );
  });

  test("unroutable publishes count in warren_messages_unroutable_total and per exchange", async () => {
    const ch = await conns[0]!.createChannel();
    await ch.assertExchange("m-nowhere", "direct", { durable: false });
    const before = (await scrape()).value("warren_messages_unroutable_total");
    for (let i = 0; i < 3; i++) ch.publish("m-nowhere", "k", Buffer.from("x"));
    await ch.checkExchange("m-nowhere");
    const m = await scrape();
    assert.equal(m.value("warren_messages_unroutable_total"), before + 3);
    const p = await scrape("/metrics/per-object");
    assert.equal(
      p.value('warren_exchange_messages_unroutable_total{vhost="/",exchange="m-nowhere"}'),
      3,
    );
    await ch.close();
  });

  test("redeliveries and dead-letters by reason", async () => {
    const ch = await conns[0]!.createChannel();
    await ch.assertExchange("m-dlx", "fanout", { durable: false });
    await ch.assertQueue("m-dead", { durable: false });
    await ch.bindQueue("m-dead", "m-dlx", "");
    await ch.assertQueue("m-work", {
      durable: false,
      arguments: { "x-dead-letter-exchange": "m-dlx" },
    });
    ch.sendToQueue("m-work", Buffer.from("bad"));
    const before = await scrape();
    let deliveries = 0;
    const rejected = new Promise<void>((resolve) => {
      void ch.consume("m-work", (msg) => {
        if (!msg) return;
        deliveries++;
        // Requeue once (a redelivery), then reject for good (dead-lettered as "rejected").
        if (deliveries === 1) ch.nack(msg, false, true);
        else {
          ch.nack(msg, false, false);
          resolve();
        }
      });
    });
    await withTimeout(rejected, 5000, "two deliveries");
    await sleep(100);
    const m = await scrape();
    assert.equal(
      m.value("warren_messages_redelivered_total") -
        before.value("warren_messages_redelivered_total"),
      1,
    );
    assert.equal(
      m.value(
        'rabbitmq_global_messages_redelivered_total{protocol="amqp091",queue_type="rabbit_classic_queue"}',
      ) -
        before.value(
          'rabbitmq_global_messages_redelivered_total{protocol="amqp091",queue_type="rabbit_classic_queue"}',
        ),
      1,
    );
    assert.equal(m.value('warren_messages_dead_lettered_total{reason="rejected"}'), 1);
    assert.equal(
      m.value(
        'rabbitmq_global_messages_dead_lettered_rejected_total{queue_type="rabbit_classic_queue",dead_letter_strategy="at_most_once"}',
      ),
      1,
    );
    await ch.close();
  });

  test("the event-loop delay and missed-heartbeat closes are exposed", async () => {
    const m = await scrape();
    const p99 = m.value('warren_event_loop_delay_seconds{quantile="0.99"}');
    assert.ok(p99 >= 0 && p99 < 1, `p99 ${p99}`);
    assert.equal(m.value("warren_missed_heartbeat_closes_total"), 0);
    assert.equal(m.types.get("warren_missed_heartbeat_closes_total"), "counter");
  });

  test("every family has a TYPE and a HELP line and no family appears twice", async () => {
    const { text } = await scrape();
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    const helps = text.match(/^# HELP \S+/gm) ?? [];
    assert.equal(types.length, helps.length);
    assert.equal(new Set(types).size, types.length);
    for (const line of text.split("\n")) {
      if (line && !line.startsWith("#"))
        assert.match(line, /^[a-z_]+(\{[^}]*\})? -?[\d.e+-]+$|NaN$/, line);
    }
  });
});
