import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Connection, connect, withTimeout } from "../support/amqplib-helpers.js";
import { type MgmtBroker, run, startMgmtBroker } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// Debian's rabbitmqadmin (shipped in the rabbitmq-server package, 3.10.8 here),
// unchanged, against Warren's management API: list, show, declare, publish, get,
// purge, close and delete, and definitions export and import. .ci/run extracts the
// script from the package when RabbitMQ itself is not installed.

const CANDIDATES = [
  process.env.WARREN_RABBITMQADMIN,
  "/usr/bin/rabbitmqadmin",
  join(tmpdir(), "warren-ci-rabbitmqadmin/usr/bin/rabbitmqadmin"),
].filter((p): p is string => !!p);
const RABBITMQADMIN = CANDIDATES.find((p) => existsSync(p));

const skip = warrenOnly("drives Warren's management API");
let node: MgmtBroker;
let conn: Connection;

before(async () => {
  if (skip) return;
  assert.ok(
    RABBITMQADMIN,
    `rabbitmqadmin not found (looked at ${CANDIDATES.join(", ")}): install rabbitmq-server, or run .ci/run, ` +
      "or set WARREN_RABBITMQADMIN to the script extracted from the Debian package",
  );
  node = await startMgmtBroker();
  conn = await connect(node.broker.url, { clientProperties: { connection_name: "admin-test" } });
});

after(async () => {
  await conn?.close().catch(() => {});
  await node?.stop();
});

function admin(...args: string[]) {
  return run("/usr/bin/python3", [
    RABBITMQADMIN!,
    "-H",
    "127.0.0.1",
    "-P",
    String(node.mgmtPort),
    ...args,
  ]);
}

/** rabbitmqadmin -f raw_json list ...: the API's JSON as the tool fetched it. */
async function listJson(...what: string[]): Promise<Record<string, unknown>[]> {
  const r = await admin("-f", "raw_json", "list", ...what);
  assert.equal(r.exitCode, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout);
}

describe("Debian's rabbitmqadmin against Warren", { skip }, () => {
  test("declare queue, exchange and binding, then list them in its table format", async () => {
    for (const args of [
      ["declare", "queue", "name=adm-q", "durable=true", 'arguments={"x-max-length":50}'],
      ["declare", "exchange", "name=adm-x", "type=topic"],
      ["declare", "binding", "source=adm-x", "destination=adm-q", "routing_key=a.#"],
    ]) {
      const r = await admin(...args);
      assert.equal(r.exitCode, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    }
    const table = await admin("list", "queues");
    assert.match(table.stdout, /\| name +\| messages \|/);
    assert.match(table.stdout, /\| adm-q +\| 0 +\|/);
    const queues = await listJson("queues", "name", "durable", "arguments");
    assert.deepEqual(
      queues.find((q) => q.name === "adm-q"),
      { name: "adm-q", durable: true, arguments: { "x-max-length": 50 } },
    );
    const exchanges = await listJson("exchanges");
    assert.ok(exchanges.some((e) => e.name === "adm-x" && e.type === "topic"));
    const bindings = await listJson("bindings");
    assert.ok(bindings.some((b) => b.source === "adm-x" && b.routing_key === "a.#"));
  });

  test("publish routes through the exchange and get returns the messages with their properties", async () => {
    let r = await admin(
      "publish",
      "exchange=adm-x",
      "routing_key=a.b",
      "payload=hello from rabbitmqadmin",
    );
    assert.equal(r.exitCode, 0, r.stderr);
    r = await admin(
      "publish",
      "routing_key=adm-q",
      "payload=second",
      'properties={"delivery_mode":2,"headers":{"trace":"t1"},"correlation_id":"c-9"}',
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const got = await admin("-f", "raw_json", "get", "queue=adm-q", "count=5");
    assert.equal(got.exitCode, 0, got.stderr);
    const messages = JSON.parse(got.stdout);
    assert.equal(messages.length, 2);
    assert.equal(messages[0].payload, "hello from rabbitmqadmin");
    assert.equal(messages[0].routing_key, "a.b");
    assert.equal(messages[0].exchange, "adm-x");
    assert.equal(messages[1].properties.correlation_id, "c-9");
    assert.deepEqual(messages[1].properties.headers, { trace: "t1" });
    assert.equal(messages[1].properties.delivery_mode, 2);
    // ack_requeue_true (rabbitmqadmin's default) puts them back, now redelivered.
    const again = JSON.parse((await admin("-f", "raw_json", "get", "queue=adm-q")).stdout);
    assert.equal(again[0].redelivered, true);
    assert.equal(again[0].message_count, 1);
  });

  test("get with ackmode=ack_requeue_false consumes the message", async () => {
    await admin("get", "queue=adm-q", "count=1", "ackmode=ack_requeue_false");
    const q = (await listJson("queues", "name", "messages")).find((x) => x.name === "adm-q");
    assert.equal(q?.messages, 1);
  });

  test("publish of an unroutable message succeeds and says it was not routed", async () => {
    const r = await admin("publish", "exchange=adm-x", "routing_key=nowhere", "payload=lost");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /Message published but NOT routed/);
  });

  test("purge queue empties it", async () => {
    assert.equal((await admin("purge", "queue", "name=adm-q")).exitCode, 0);
    const q = (await listJson("queues", "name", "messages")).find((x) => x.name === "adm-q");
    assert.equal(q?.messages, 0);
  });

  test("an inequivalent redeclaration fails with RabbitMQ's reason", async () => {
    const r = await admin("declare", "queue", "name=adm-q", "durable=false");
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout + r.stderr, /inequivalent arg 'durable' for queue 'adm-q' in vhost '\/'/);
  });

  test("list connections, channels, consumers, nodes and show overview", async () => {
    const ch = await conn.createChannel();
    await ch.consume("adm-q", () => {}, { consumerTag: "adm-consumer" });
    const connections = await listJson("connections");
    assert.ok(
      connections.some((c) => c.user_provided_name === "admin-test" && c.state === "running"),
    );
    const channels = await listJson("channels");
    assert.ok(channels.some((c) => c.consumer_count === 1));
    const consumers = await listJson("consumers");
    assert.ok(consumers.some((c) => c.consumer_tag === "adm-consumer"));
    const nodes = await admin("list", "nodes");
    assert.match(nodes.stdout, /\| warren@\S+ +\| disc +\| \d+ +\|/);
    const overview = await admin("show", "overview");
    assert.match(overview.stdout, /rabbitmq_version/);
    assert.match(overview.stdout, /\| 3\.\d+\.\d+ +\| warren@/);
    await ch.close();
  });

  test("users, vhosts, permissions and policies can be declared, listed and deleted", async () => {
    for (const args of [
      ["declare", "vhost", "name=adm-v"],
      ["declare", "user", "name=adm-u", "password=pw", "tags=monitoring"],
      ["declare", "permission", "vhost=adm-v", "user=adm-u", "configure=.*", "write=.*", "read=.*"],
      [
        "declare",
        "policy",
        "name=adm-p",
        "pattern=^adm-",
        'definition={"max-length":10}',
        "apply-to=queues",
      ],
    ]) {
      const r = await admin(...args);
      assert.equal(r.exitCode, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    }
    assert.ok((await listJson("vhosts")).some((v) => v.name === "adm-v"));
    assert.ok(
      (await listJson("users")).some(
        (u) => u.name === "adm-u" && String(u.tags).includes("monitoring"),
      ),
    );
    assert.ok(
      (await listJson("permissions")).some((p) => p.user === "adm-u" && p.vhost === "adm-v"),
    );
    const policies = await listJson("policies");
    assert.deepEqual(policies.find((p) => p.name === "adm-p")?.definition, { "max-length": 10 });
    const asMonitor = await admin("-u", "adm-u", "-p", "pw", "-f", "raw_json", "list", "vhosts");
    assert.equal(asMonitor.exitCode, 0, asMonitor.stderr);
    for (const args of [
      ["delete", "policy", "name=adm-p"],
      ["delete", "permission", "vhost=adm-v", "user=adm-u"],
      ["delete", "user", "name=adm-u"],
      ["delete", "vhost", "name=adm-v"],
    ]) {
      const r = await admin(...args);
      assert.equal(r.exitCode, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    }
    assert.ok(!(await listJson("users")).some((u) => u.name === "adm-u"));
  });

  test("export and import move definitions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rabbitmqadmin-"));
    const file = join(dir, "defs.json");
    assert.equal((await admin("export", file)).exitCode, 0);
    const defs = JSON.parse(readFileSync(file, "utf8"));
    assert.ok(defs.queues.some((q: { name: string }) => q.name === "adm-q"));
    const other = await startMgmtBroker();
    try {
      const r = await run("/usr/bin/python3", [
        RABBITMQADMIN!,
        "-P",
        String(other.mgmtPort),
        "import",
        file,
      ]);
      assert.equal(r.exitCode, 0, r.stderr);
      const q = await run("/usr/bin/python3", [
        RABBITMQADMIN!,
        "-P",
        String(other.mgmtPort),
        "-f",
        "raw_json",
        "list",
        "queues",
        "name",
      ]);
      assert.ok(JSON.parse(q.stdout).some((x: { name: string }) => x.name === "adm-q"));
    } finally {
      await other.stop();
    }
  });

  test("close connection closes it by name", async () => {
    const victim = await connect(node.broker.url, {
      clientProperties: { connection_name: "victim" },
    });
    const closed = new Promise((resolve) => victim.on("close", resolve));
    const name = (await listJson("connections")).find(
      (c) => c.user_provided_name === "victim",
    )!.name;
    const r = await admin("close", "connection", `name=${name}`);
    assert.equal(r.exitCode, 0, r.stderr);
    await withTimeout(closed, 5000, "the closed connection");
  });

  test("delete binding, exchange and queue; deleting again reports Not found", async () => {
    const b = (await listJson("bindings")).find((x) => x.source === "adm-x")!;
    let r = await admin(
      "delete",
      "binding",
      "source=adm-x",
      "destination_type=queue",
      "destination=adm-q",
      `properties_key=${b.properties_key}`,
    );
    assert.equal(r.exitCode, 0, r.stderr + r.stdout);
    assert.ok(!(await listJson("bindings")).some((x) => x.source === "adm-x"));
    assert.equal((await admin("delete", "exchange", "name=adm-x")).exitCode, 0);
    assert.equal((await admin("delete", "queue", "name=adm-q")).exitCode, 0);
    r = await admin("delete", "queue", "name=adm-q");
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout + r.stderr, /Not found: \/api\/queues\/%2F\/adm-q/);
  });

  test("every object type rabbitmqadmin can list is listable", async () => {
    for (const what of [
      "connections",
      "channels",
      "consumers",
      "exchanges",
      "queues",
      "bindings",
      "users",
      "vhosts",
      "permissions",
      "nodes",
      "parameters",
      "policies",
      "operator_policies",
      "vhost_limits",
    ]) {
      const r = await admin("list", what);
      assert.equal(r.exitCode, 0, `list ${what}: ${r.stderr}${r.stdout}`);
    }
  });

  test("wrong credentials are refused as RabbitMQ refuses them", async () => {
    const r = await admin("-u", "guest", "-p", "wrong", "list", "queues");
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout + r.stderr, /Access refused/);
  });
});
