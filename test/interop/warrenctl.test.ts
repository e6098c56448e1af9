import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Connection, connect, sleep, withTimeout } from "../support/amqplib-helpers.js";
import {
  api,
  type MgmtBroker,
  startMgmtBroker,
  warrenctl,
  warrenctlInProcess,
} from "../support/mgmt-broker.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { warrenOnly } from "../support/warren-only.js";

// warrenctl verb by verb against a real Warren: output shaped as rabbitmqctl's
// (tab-separated columns, "Listing ..." lines, the same columns and messages),
// --formatter json, exit codes, and the effect on the broker.

const skip = warrenOnly("warrenctl talks to Warren's management API");
let node: MgmtBroker;
let conn: Connection;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  conn = await connect(node.broker.url, { clientProperties: { connection_name: "ctl-test" } });
  const ch = await conn.createChannel();
  await ch.assertQueue("ctl-q1", { durable: true, arguments: { "x-max-length": 100 } });
  for (let i = 0; i < 3; i++) ch.sendToQueue("ctl-q1", Buffer.from(`m${i}`));
  await ch.assertExchange("ctl-x", "topic");
  await ch.bindQueue("ctl-q1", "ctl-x", "a.#");
  await ch.assertQueue("ctl-q2", { durable: false });
  ch.sendToQueue("ctl-q2", Buffer.from("held"));
  await ch.prefetch(1);
  await ch.consume("ctl-q2", () => {}, { consumerTag: "ctl-consumer" });
  await ch.checkQueue("ctl-q1");
});

after(async () => {
  await conn?.close().catch(() => {});
  await node?.stop();
});

// Most verbs run in-process (fast); a few below run bin/warrenctl.js itself.
const ctl = (...args: string[]) => warrenctlInProcess(node.mgmtUrl, args);

/** The tab-separated rows after the "Listing ..." and header lines. */
function rows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split("\n")
    .filter((l) => !l.endsWith("...") && !l.startsWith("Timeout:"))
    .slice(1)
    .map((l) => l.split("\t"));
}

describe("warrenctl", { skip }, () => {
  test("list_queues prints rabbitmqctl's lines, header and tab-separated name and messages", async () => {
    const r = await ctl("list_queues");
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "Timeout: 60.0 seconds ...");
    assert.equal(lines[1], "Listing queues for vhost / ...");
    assert.equal(lines[2], "name\tmessages");
    assert.ok(lines.includes("ctl-q1\t3"), r.stdout);
    assert.ok(lines.includes("ctl-q2\t1"), r.stdout);
  });

  test("list_queues takes rabbitmqctl's columns, -q and --no-table-headers", async () => {
    const r = await ctl(
      "-q",
      "list_queues",
      "name",
      "messages_ready",
      "messages_unacknowledged",
      "consumers",
      "durable",
      "type",
      "state",
      "arguments",
      "--no-table-headers",
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const byName = new Map(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((l) => [l.split("\t")[0], l.split("\t")]),
    );
    assert.deepEqual(byName.get("ctl-q1"), [
      "ctl-q1",
      "3",
      "0",
      "0",
      "true",
      "classic",
      "running",
      '[{"x-max-length",100}]',
    ]);
    assert.deepEqual(byName.get("ctl-q2"), [
      "ctl-q2",
      "0",
      "1",
      "1",
      "false",
      "classic",
      "running",
      "[]",
    ]);
  });

  test("an unknown column is a usage error (64) naming it, as rabbitmqctl", async () => {
    const r = await ctl("list_queues", "name", "nosuch");
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /Info key\(s\) nosuch are not supported/);
  });

  test("--formatter json prints one object per row with the requested columns", async () => {
    const r = await ctl("list_queues", "name", "messages", "--formatter", "json");
    assert.equal(r.exitCode, 0, r.stderr);
    const items = JSON.parse(r.stdout) as { name: string; messages: number }[];
    assert.deepEqual(
      items.find((i) => i.name === "ctl-q1"),
      { name: "ctl-q1", messages: 3 },
    );
  });

  test("list_connections shows user, peer and state by default, any column on request", async () => {
    const r = await ctl("list_connections");
    assert.equal(r.stdout.split("\n")[1], "user\tpeer_host\tpeer_port\tstate");
    assert.match(r.stdout, /guest\t127\.0\.0\.1\t\d+\trunning/);
    const named = await ctl("list_connections", "name", "user_provided_name", "channels", "vhost");
    assert.match(named.stdout, /127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\tctl-test\t1\t\//);
  });

  test("list_channels and list_consumers show the consumer holding its unacked message", async () => {
    const ch = await ctl(
      "list_channels",
      "name",
      "consumer_count",
      "messages_unacknowledged",
      "prefetch_count",
    );
    assert.match(ch.stdout, /\(1\)\t1\t1\t1/);
    const cons = await ctl("list_consumers");
    assert.match(cons.stdout.split("\n")[0]!, /^Listing consumers in vhost \/ \.\.\.$/);
    assert.match(cons.stdout, /ctl-q2\t<[^>]+>\tctl-consumer\ttrue\t1\ttrue\t\[\]/);
  });

  test("list_exchanges and list_bindings include the default exchange as rabbitmqctl does", async () => {
    const ex = await ctl("list_exchanges", "name", "type", "durable");
    assert.ok(ex.stdout.includes("\tdirect\ttrue\n"), "the default exchange has an empty name");
    assert.ok(ex.stdout.includes("ctl-x\ttopic\ttrue"));
    const b = await ctl("list_bindings");
    assert.ok(b.stdout.includes("Listing bindings for vhost /..."));
    assert.ok(b.stdout.includes("\texchange\tctl-q1\tqueue\tctl-q1\t[]"));
    assert.ok(b.stdout.includes("ctl-x\texchange\tctl-q1\tqueue\ta.#\t[]"));
  });

  test("add_vhost, list_vhosts and delete_vhost", async () => {
    assert.equal((await ctl("add_vhost", "ctl-v")).stdout, 'Adding vhost "ctl-v" ...\n');
    assert.deepEqual(
      rows((await ctl("list_vhosts")).stdout)
        .flat()
        .sort(),
      ["/", "ctl-v"],
    );
    assert.equal((await ctl("delete_vhost", "ctl-v")).exitCode, 0);
    assert.deepEqual(rows((await ctl("list_vhosts")).stdout).flat(), ["/"]);
  });

  test("add_user, set_user_tags, change_password, list_users, delete_user", async () => {
    const add = await ctl("add_user", "ctl-bob", "pw1");
    assert.equal(add.exitCode, 0, add.stderr);
    assert.match(add.stdout, /^Adding user "ctl-bob" \.\.\.\n/);
    const again = await ctl("add_user", "ctl-bob", "pw1");
    assert.equal(again.exitCode, 65);
    assert.match(again.stderr, /already exists/);
    await ctl("set_user_tags", "ctl-bob", "monitoring", "policymaker");
    assert.match((await ctl("list_users")).stdout, /ctl-bob\t\[monitoring, policymaker\]/);
    await ctl("change_password", "ctl-bob", "pw2");
    const whoami = await api(node.mgmtUrl, "GET", "/api/whoami", undefined, ["ctl-bob", "pw2"]);
    assert.deepEqual(whoami.body, { name: "ctl-bob", tags: ["monitoring", "policymaker"] });
    const old = await api(node.mgmtUrl, "GET", "/api/whoami", undefined, ["ctl-bob", "pw1"]);
    assert.equal(old.status, 401);
    assert.equal((await ctl("delete_user", "ctl-bob")).exitCode, 0);
    assert.doesNotMatch((await ctl("list_users")).stdout, /ctl-bob/);
  });

  test("set_permissions, list_permissions, list_user_permissions, clear_permissions", async () => {
    await ctl("add_user", "ctl-carol", "pw");
    const set = await ctl("set_permissions", "-p", "/", "ctl-carol", "^carol-.*", ".*", "");
    assert.equal(set.stdout, 'Setting permissions for user "ctl-carol" in vhost "/" ...\n');
    assert.match((await ctl("list_permissions")).stdout, /ctl-carol\t\^carol-\.\*\t\.\*\t\n/);
    assert.match(
      (await ctl("list_user_permissions", "ctl-carol")).stdout,
      /\/\t\^carol-\.\*\t\.\*\t\n/,
    );
    await ctl("clear_permissions", "ctl-carol");
    assert.doesNotMatch((await ctl("list_permissions")).stdout, /ctl-carol/);
    await ctl("delete_user", "ctl-carol");
  });

  test("set_policy applies at once and shows in list_policies and list_queues; clear_policy removes it", async () => {
    const set = await ctl(
      "set_policy",
      "ctl-cap",
      "^ctl-q1$",
      '{"max-length":2}',
      "--priority",
      "5",
      "--apply-to",
      "queues",
    );
    assert.equal(set.exitCode, 0, set.stderr);
    assert.match(
      set.stdout,
      /Setting policy "ctl-cap" for pattern "\^ctl-q1\$" to "\{"max-length":2\}" with priority "5" for vhost "\/" \.\.\./,
    );
    assert.match(
      (await ctl("list_policies")).stdout,
      /\/\tctl-cap\t\^ctl-q1\$\tqueues\t\[\{"max-length",2\}\]\t5/,
    );
    const q = await ctl("-q", "list_queues", "name", "policy", "messages", "--no-table-headers");
    assert.match(
      q.stdout,
      /ctl-q1\tctl-cap\t2/,
      "the policy's max-length dropped the oldest message",
    );
    await ctl("clear_policy", "ctl-cap");
    assert.doesNotMatch((await ctl("list_policies")).stdout, /ctl-cap/);
    const bad = await ctl("set_policy", "ctl-bad", ".*", '{"no-such-key":1}');
    assert.equal(bad.exitCode, 70);
    assert.match(bad.stderr, /no-such-key/);
  });

  test("set_operator_policy and clear_operator_policy", async () => {
    const set = await ctl(
      "set_operator_policy",
      "ctl-op",
      "^ctl-",
      '{"message-ttl":600000}',
      "--apply-to",
      "queues",
    );
    assert.equal(set.exitCode, 0, set.stderr);
    assert.match((await ctl("list_operator_policies")).stdout, /ctl-op\t\^ctl-\tqueues/);
    const q = await api(node.mgmtUrl, "GET", "/api/queues/%2F/ctl-q1");
    assert.equal((q.body as { operator_policy: string }).operator_policy, "ctl-op");
    await ctl("clear_operator_policy", "ctl-op");
    assert.doesNotMatch((await ctl("list_operator_policies")).stdout, /ctl-op/);
  });

  test("purge_queue empties a queue and delete_queue reports what it had", async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue("ctl-purge");
    for (let i = 0; i < 4; i++) ch.sendToQueue("ctl-purge", Buffer.from("x"));
    await ch.checkQueue("ctl-purge");
    assert.equal(
      (await ctl("purge_queue", "ctl-purge")).stdout,
      "Purging queue 'ctl-purge' in vhost '/' ...\n",
    );
    assert.equal((await ch.checkQueue("ctl-purge")).messageCount, 0);
    ch.sendToQueue("ctl-purge", Buffer.from("x"));
    await ch.checkQueue("ctl-purge");
    const del = await ctl("delete_queue", "ctl-purge");
    assert.match(del.stdout, /Queue was successfully deleted with 1 messages/);
    await ch.close();
    const missing = await ctl("delete_queue", "ctl-purge");
    assert.notEqual(missing.exitCode, 0);
  });

  test("delete_queue --if-empty refuses a queue with messages", async () => {
    const r = await ctl("delete_queue", "ctl-q1", "--if-empty");
    assert.equal(r.exitCode, 70);
    assert.match(r.stderr, /not empty/);
  });

  test("close_connection closes one connection with CONNECTION_FORCED and the reason", async () => {
    const victim = await connect(node.broker.url);
    // amqplib reports a server's 320 CONNECTION_FORCED as the close event's error.
    const closed = new Promise<Error>((resolve) => victim.on("close", resolve));
    await sleep(50);
    const list = await ctl("-q", "list_connections", "name", "peer_port", "--no-table-headers");
    const port = (victim.connection as unknown as { stream: { localPort: number } }).stream
      .localPort;
    const name = list.stdout
      .split("\n")
      .find((l) => l.endsWith(`\t${port}`))!
      .split("\t")[0]!;
    const r = await ctl("close_connection", name, "go away");
    assert.equal(r.exitCode, 0, r.stderr);
    const err = await withTimeout(closed, 5000, "the connection close");
    assert.match(err.message, /320/);
    assert.match(err.message, /CONNECTION_FORCED - go away/);
  });

  test("close_all_connections closes every connection of a vhost", async () => {
    await ctl("add_vhost", "ctl-close");
    await ctl("set_permissions", "-p", "ctl-close", "guest", ".*", ".*", ".*");
    const url = `${node.broker.url}/ctl-close`;
    const victims = await Promise.all([connect(url), connect(url)]);
    const errors = victims.map((v) => new Promise((resolve) => v.on("close", resolve)));
    const r = await ctl("close_all_connections", "-p", "ctl-close", "maintenance");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /Closed 2 connections/);
    await withTimeout(Promise.all(errors), 5000, "both connections closed");
    assert.ok(conn.connection, "the connection in / stays open");
    await ctl("delete_vhost", "ctl-close");
  });

  test("export_definitions and import_definitions move topology between nodes in RabbitMQ's JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warrenctl-"));
    const file = join(dir, "defs.json");
    assert.equal((await ctl("export_definitions", file)).exitCode, 0);
    const defs = JSON.parse(readFileSync(file, "utf8"));
    assert.ok(defs.queues.some((q: { name: string }) => q.name === "ctl-q1"));
    assert.ok(defs.bindings.some((b: { source: string }) => b.source === "ctl-x"));
    const other = await startMgmtBroker();
    try {
      const imp = await warrenctl(other.mgmtUrl, ["import_definitions", file]);
      assert.equal(imp.exitCode, 0, imp.stderr);
      const q = await api(other.mgmtUrl, "GET", "/api/queues/%2F/ctl-q1");
      assert.deepEqual((q.body as { arguments: unknown }).arguments, { "x-max-length": 100 });
      const b = await api(other.mgmtUrl, "GET", "/api/bindings/%2F/e/ctl-x/q/ctl-q1");
      assert.equal((b.body as unknown[]).length, 1);
      const stdin = await warrenctl(
        other.mgmtUrl,
        ["import_definitions", "-"],
        JSON.stringify({ vhosts: [{ name: "from-stdin" }] }),
      );
      assert.equal(stdin.exitCode, 0, stdin.stderr);
      assert.match((await warrenctl(other.mgmtUrl, ["list_vhosts"])).stdout, /from-stdin/);
    } finally {
      await other.stop();
    }
    writeFileSync(file, "{not json");
    assert.equal((await ctl("import_definitions", file)).exitCode, 65);
  });

  test("status prints the classic term with file_descriptors, memory, alarms, listeners, uptime and versions", async () => {
    const r = await ctl("status");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^Status of node warren@/);
    assert.match(
      r.stdout,
      /\{file_descriptors,\s*\[\{total_limit,\d+\},\{total_used,\d+\},\{sockets_limit,\d+\},\{sockets_used,\d+\}\]\}/,
    );
    for (const key of [
      "memory",
      "alarms",
      "listeners",
      "uptime",
      "rabbitmq_version",
      "product_version",
      "limits",
    ]) {
      assert.match(r.stdout, new RegExp(`\\{${key},`), key);
    }
    const json = JSON.parse((await ctl("status", "--formatter", "json")).stdout);
    assert.ok(json.file_descriptors.total_limit > json.file_descriptors.total_used);
    assert.equal(json.file_descriptors.sockets_used, 1);
    assert.deepEqual(json.alarms, []);
    assert.ok(json.listeners.some((l: { protocol: string }) => l.protocol === "amqp"));
    assert.equal(json.limits.heartbeat_sec, 60);
    const pretty = await ctl("status", "--formatter", "pretty");
    assert.match(
      pretty.stdout,
      /File Descriptors\n\nTotal: \d+, limit: \d+\nSockets: 1, limit: \d+/,
    );
  });

  test("cluster_status lists the one node and no network partitions", async () => {
    const r = await ctl("cluster_status");
    assert.match(r.stdout, /Running Nodes\n\nwarren@\S+\n/);
    assert.match(r.stdout, /Network Partitions\n\n\(none\)/);
    const json = JSON.parse((await ctl("cluster_status", "--formatter", "json")).stdout);
    assert.equal(json.running_nodes.length, 1);
    assert.deepEqual(json.partitions, {});
  });

  test("ping, check_running, check_local_alarms and check_port_connectivity pass on a healthy node", async () => {
    assert.match((await ctl("ping")).stdout, /Ping succeeded/);
    assert.match((await ctl("check_running")).stdout, /is fully booted and running/);
    assert.match((await ctl("check_local_alarms")).stdout, /reported no local alarms/);
    const ports = await ctl("check_port_connectivity");
    assert.equal(ports.exitCode, 0, ports.stderr);
    assert.match(ports.stdout, /Successfully connected to ports [\d, ]+ on node warren@/);
    for (const port of [node.broker.port, node.mgmtPort, node.metricsPort]) {
      assert.match(ports.stdout, new RegExp(`\\b${port}\\b`));
    }
    assert.equal((await ctl("check_port_listener", String(node.broker.port))).exitCode, 0);
    assert.equal((await ctl("check_port_listener", "1")).exitCode, 69);
  });

  test("a node that does not answer is exit 69 with rabbitmqctl's explanation", async () => {
    const r = await warrenctl("http://127.0.0.1:1", ["list_queues"]);
    assert.equal(r.exitCode, 69);
    assert.match(r.stderr, /unable to perform an operation on node/);
    const ping = await warrenctl("http://127.0.0.1:1", ["ping"]);
    assert.equal(ping.exitCode, 69);
    for (const check of ["check_running", "check_local_alarms", "check_port_connectivity"]) {
      const r = await warrenctl("http://127.0.0.1:1", [check]);
      assert.equal(r.exitCode, 69, `${check}: ${r.stderr}`);
      assert.match(r.stderr, /unable to perform an operation on node/, check);
    }
  });

  test("check_port_connectivity fails (69) naming the ports it cannot reach, as behind a firewall", async () => {
    // The management API is reached through 127.0.0.2, where nothing else listens: the
    // node answers, but its AMQP and metrics ports cannot be opened from that address.
    const proxy = new TcpProxy("127.0.0.1", node.mgmtPort, { listenHost: "127.0.0.2" });
    await proxy.start();
    try {
      const r = await warrenctlInProcess(`http://127.0.0.2:${proxy.port}`, [
        "check_port_connectivity",
      ]);
      assert.equal(r.exitCode, 69, r.stdout);
      const failed = /Error: connection to ports ([\d, ]+) on node warren@/.exec(r.stderr);
      assert.ok(failed, r.stderr);
      const ports = failed[1]!.split(", ").map(Number);
      assert.ok(ports.includes(node.broker.port), `AMQP port not reported: ${r.stderr}`);
      assert.ok(ports.includes(node.metricsPort), `metrics port not reported: ${r.stderr}`);
    } finally {
      await proxy.stop();
    }
  });

  test("--username and --password reach the node as another user; wrong ones are refused", async () => {
    await ctl("add_user", "ctl-admin", "secret");
    await ctl("set_user_tags", "ctl-admin", "administrator");
    const ok = await ctl("--username", "ctl-admin", "--password", "secret", "list_users");
    assert.equal(ok.exitCode, 0, ok.stderr);
    const bad = await ctl("--username", "ctl-admin", "--password", "nope", "list_users");
    assert.equal(bad.exitCode, 70);
    assert.match(bad.stderr, /Login failed/);
    const inUrl = await warrenctl(node.mgmtUrl.replace("http://", "http://ctl-admin:secret@"), [
      "list_users",
    ]);
    assert.equal(inUrl.exitCode, 0, inUrl.stderr);
    await ctl("delete_user", "ctl-admin");
  });

  test("--node host:port finds the node's API like rabbitmqctl -n", async () => {
    const r = await warrenctl("", ["--node", `warren@127.0.0.1:${node.mgmtPort}`, "ping"]);
    assert.equal(r.exitCode, 0, r.stderr);
  });

  test("an unknown command is a usage error", async () => {
    const r = await ctl("no_such_verb");
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /Command 'no_such_verb' not found/);
  });
});
