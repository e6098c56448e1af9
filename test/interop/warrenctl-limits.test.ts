import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type Connection,
  connect,
  rejectsWith,
  sleep,
  withTimeout,
} from "../support/amqplib-helpers.js";
import {
  api,
  type MgmtBroker,
  startMgmtBroker,
  warrenctl,
  warrenctlInProcess,
} from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// The operator controls RabbitMQ has verbs for, through warrenctl and the HTTP API
// against a real Warren: vhost limits, user limits, and the memory and disk alarm
// thresholds; each checked by what real clients then get.

const skip = warrenOnly("changes the limits of a Warren it starts");
let node: MgmtBroker;
let dataDir: string;
const open: Connection[] = [];

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), "warren-limits-"));
  node = await startMgmtBroker({ dataDir });
  for (const args of [
    ["add_vhost", "lim"],
    ["set_permissions", "-p", "lim", "guest", ".*", ".*", ".*"],
    ["add_user", "capped", "pw"],
    ["set_permissions", "-p", "lim", "capped", ".*", ".*", ".*"],
  ]) {
    const r = await ctl(...args);
    assert.equal(r.exitCode, 0, r.stderr);
  }
});

after(async () => {
  for (const c of open) await c.close().catch(() => {});
  await node?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const ctl = (...args: string[]) => warrenctlInProcess(node.mgmtUrl, args);

async function connectTo(vhost: string, user = "guest", password = "guest"): Promise<Connection> {
  const c = await connect(
    `amqp://${user}:${password}@127.0.0.1:${node.broker.port}/${encodeURIComponent(vhost)}`,
  );
  c.on("error", () => {});
  open.push(c);
  return c;
}

/**
 * amqplib reports a refusal at connection.open only as "got ConnectionClose"; the
 * reply text is in the broker's log.
 */
async function refusedAtOpen(attempt: Promise<unknown>, text: RegExp): Promise<void> {
  const from = node.broker.logs.length;
  await assert.rejects(attempt, /ConnectionClose/);
  await node.broker.waitForLog(
    (l) => node.broker.logs.indexOf(l) >= from && text.test(JSON.stringify(l)),
  );
}

async function closeAll(): Promise<void> {
  for (const c of open.splice(0)) await c.close().catch(() => {});
  await sleep(50);
}

describe("vhost and user limits", { skip }, () => {
  test("set_vhost_limits caps connections and queues with RabbitMQ's refusals; list_vhost_limits shows them", async () => {
    const set = await ctl("set_vhost_limits", "-p", "lim", '{"max-connections":2,"max-queues":2}');
    assert.equal(set.exitCode, 0, set.stderr);
    assert.equal(
      set.stdout,
      'Setting vhost limits to "{"max-connections":2,"max-queues":2}" for vhost "lim" ...\n',
    );
    const list = await ctl("list_vhost_limits", "-p", "lim");
    assert.equal(
      list.stdout,
      'Listing limits for vhost "lim" ...\n{"max-connections":2,"max-queues":2}\n',
    );
    const http = await api(node.mgmtUrl, "GET", "/api/vhost-limits/lim");
    assert.deepEqual(http.body, [
      { vhost: "lim", value: { "max-connections": 2, "max-queues": 2 } },
    ]);

    const first = await connectTo("lim");
    await connectTo("lim");
    await refusedAtOpen(
      connectTo("lim"),
      /NOT_ALLOWED - access to vhost 'lim' refused for user 'guest': connection limit \(2\) is reached/,
    );
    const ch = await first.createChannel();
    await ch.assertQueue("lim-1", { durable: false });
    await ch.assertQueue("lim-2", { durable: false });
    await rejectsWith(
      ch.assertQueue("lim-3", { durable: false }),
      406,
      /cannot declare queue 'lim-3': queue limit in vhost 'lim' \(2\) is reached/,
    );
    await closeAll();
  });

  test("set_vhost_limits replaces the vhost's limits; clear_vhost_limits removes them", async () => {
    await ctl("set_vhost_limits", "-p", "lim", '{"max-connections":1,"max-queues":5}');
    assert.equal((await ctl("set_vhost_limits", "-p", "lim", '{"max-queues":5}')).exitCode, 0);
    assert.equal(
      (await ctl("-q", "list_vhost_limits", "-p", "lim")).stdout,
      '{"max-queues":5}\n',
      "max-connections went with the new definition",
    );
    await connectTo("lim");
    await connectTo("lim");
    const global = await ctl("list_vhost_limits", "--global");
    assert.equal(
      global.stdout,
      'Listing limits for all vhosts ...\nvhost\tlimits\nlim\t{"max-queues":5}\n',
    );
    const clear = await ctl("clear_vhost_limits", "-p", "lim");
    assert.equal(clear.stdout, 'Clearing vhost "lim" limits ...\n');
    assert.equal((await ctl("-q", "list_vhost_limits", "-p", "lim")).stdout, "");
    assert.deepEqual((await api(node.mgmtUrl, "GET", "/api/vhost-limits")).body, []);
    await closeAll();
  });

  test("a negative limit is no limit and 0 refuses every connection, as in RabbitMQ", async () => {
    await ctl("set_vhost_limits", "-p", "lim", '{"max-connections":0}');
    await refusedAtOpen(connectTo("lim"), /connection limit \(0\) is reached/);
    await ctl("set_vhost_limits", "-p", "lim", '{"max-connections":-1}');
    await connectTo("lim");
    await ctl("clear_vhost_limits", "-p", "lim");
    await closeAll();
  });

  test("set_user_limits caps a user's channels and connections; the limits merge; clear_user_limits", async () => {
    const set = await ctl("set_user_limits", "capped", '{"max-channels":2}');
    assert.equal(set.stdout, 'Setting user limits to "{"max-channels":2}" for user "capped" ...\n');
    const c = await connectTo("lim", "capped", "pw");
    const closed = new Promise<Error>((resolve) => c.once("close", resolve));
    await c.createChannel();
    await c.createChannel();
    await c.createChannel().catch(() => {});
    const err = await withTimeout(closed, 5000, "the connection closed by the channel limit");
    assert.match(
      err.message,
      /530.*number of channels opened for user 'capped' has reached the maximum allowed user limit of \(2\)/,
    );

    await ctl("set_user_limits", "capped", '{"max-connections":1}');
    assert.equal(
      (await ctl("list_user_limits", "--user", "capped")).stdout,
      'Listing limits for user "capped" ...\n{"max-channels":2,"max-connections":1}\n',
    );
    const user = await api(node.mgmtUrl, "GET", "/api/users/capped");
    assert.deepEqual((user.body as { limits: unknown }).limits, {
      "max-channels": 2,
      "max-connections": 1,
    });
    await connectTo("lim", "capped", "pw");
    await refusedAtOpen(
      connectTo("lim", "capped", "pw"),
      /NOT_ALLOWED - connection refused for user 'capped': user connection limit \(1\) is reached/,
    );

    const clear = await ctl("clear_user_limits", "capped", "max-connections");
    assert.equal(clear.stdout, 'Clearing "max-connections" limit for user "capped" ...\n');
    await connectTo("lim", "capped", "pw");
    assert.deepEqual((await api(node.mgmtUrl, "GET", "/api/user-limits")).body, [
      { user: "capped", value: { "max-channels": 2 } },
    ]);
    assert.equal(
      (await ctl("list_user_limits", "--global")).stdout,
      'Listing limits for all users ...\nuser\tlimits\ncapped\t{"max-channels":2}\n',
    );
    await ctl("clear_user_limits", "capped", "all");
    assert.equal((await ctl("-q", "list_user_limits", "--user", "capped")).stdout, "");
    await closeAll();
  });

  test("bad definitions are refused before anything changes", async () => {
    await ctl("set_vhost_limits", "-p", "lim", '{"max-queues":7}');
    const unknown = await ctl("set_vhost_limits", "-p", "lim", '{"max-queues":1,"max-bananas":3}');
    assert.equal(unknown.exitCode, 70);
    assert.match(unknown.stderr, /Unrecognised terms \[\{<<"max-bananas">>,3\}\] in limits/);
    const notJson = await ctl("set_vhost_limits", "-p", "lim", "{max-queues:1}");
    assert.equal(notJson.exitCode, 65);
    const notInt = await ctl("set_user_limits", "capped", '{"max-channels":"many"}');
    assert.equal(notInt.exitCode, 65);
    assert.match(notInt.stderr, /max-channels must be an integer/);
    assert.equal((await ctl("-q", "list_vhost_limits", "-p", "lim")).stdout, '{"max-queues":7}\n');
    const badType = await ctl("clear_user_limits", "capped", "max-queues");
    assert.equal(badType.exitCode, 65);
    const missing = await ctl("list_user_limits", "--user", "nobody");
    assert.equal(missing.exitCode, 65);
    assert.match(missing.stderr, /User "nobody" does not exist/);
    await ctl("clear_vhost_limits", "-p", "lim");
  });

  test("the HTTP API: PUT and DELETE one limit, 400 for unknown names, administrators only", async () => {
    const put = await api(node.mgmtUrl, "PUT", "/api/vhost-limits/lim/max-connections", {
      value: 9,
    });
    assert.equal(put.status, 204);
    const bad = await api(node.mgmtUrl, "PUT", "/api/vhost-limits/lim/max-bananas", { value: 1 });
    assert.equal(bad.status, 400);
    assert.match((bad.body as { reason: string }).reason, /Unrecognised terms/);
    const noValue = await api(node.mgmtUrl, "PUT", "/api/vhost-limits/lim/max-queues", {});
    assert.equal(noValue.status, 400);
    const missingVhost = await api(node.mgmtUrl, "PUT", "/api/vhost-limits/nope/max-queues", {
      value: 1,
    });
    assert.equal(missingVhost.status, 404);

    await ctl("add_user", "watcher", "pw");
    await ctl("set_user_tags", "watcher", "management");
    await ctl("set_permissions", "-p", "lim", "watcher", ".*", ".*", ".*");
    const read = await api(node.mgmtUrl, "GET", "/api/vhost-limits", undefined, ["watcher", "pw"]);
    assert.deepEqual(read.body, [{ vhost: "lim", value: { "max-connections": 9 } }]);
    const write = await api(
      node.mgmtUrl,
      "PUT",
      "/api/vhost-limits/lim/max-connections",
      { value: 1000 },
      ["watcher", "pw"],
    );
    assert.equal(write.status, 401);
    const users = await api(node.mgmtUrl, "GET", "/api/user-limits", undefined, ["watcher", "pw"]);
    assert.equal(users.status, 401);

    assert.equal(
      (await api(node.mgmtUrl, "DELETE", "/api/vhost-limits/lim/max-connections")).status,
      204,
    );
    assert.equal(
      (await api(node.mgmtUrl, "DELETE", "/api/vhost-limits/lim/max-connections")).status,
      404,
    );
    await ctl("delete_user", "watcher");
  });

  test("limit changes are logged with who made them", async () => {
    await ctl("set_vhost_limits", "-p", "lim", '{"max-queues":11}');
    await node.broker.waitForLog((l) =>
      /^Setting vhost limit 'max-queues' to 11 for vhost 'lim' \(by user 'guest'\)/.test(
        String(l.msg),
      ),
    );
    await ctl("set_user_limits", "capped", '{"max-connections":4}');
    await node.broker.waitForLog((l) =>
      /^Setting user limit 'max-connections' to 4 for user 'capped'/.test(String(l.msg)),
    );
  });

  test("limits are kept over a restart and travel in the definitions both ways", async () => {
    // The previous test left max-queues 11 on lim and max-connections 4 on capped.
    const file = join(dataDir, "..", `${node.mgmtPort}-defs.json`);
    assert.equal((await ctl("export_definitions", file)).exitCode, 0);
    const defs = JSON.parse(readFileSync(file, "utf8"));
    rmSync(file);
    assert.deepEqual(defs.vhosts.find((v: { name: string }) => v.name === "lim").limits, {
      "max-queues": 11,
    });
    assert.deepEqual(defs.parameters, [
      { value: { "max-queues": 11 }, vhost: "lim", component: "vhost-limits", name: "limits" },
    ]);
    assert.deepEqual(defs.users.find((u: { name: string }) => u.name === "capped").limits, {
      "max-connections": 4,
    });

    await node.stop();
    node = await startMgmtBroker({ dataDir });
    assert.equal((await ctl("-q", "list_vhost_limits", "-p", "lim")).stdout, '{"max-queues":11}\n');
    assert.equal(
      (await ctl("-q", "list_user_limits", "--user", "capped")).stdout,
      '{"max-connections":4}\n',
    );

    const other = await startMgmtBroker();
    try {
      const imp = await warrenctl(other.mgmtUrl, ["import_definitions", "-"], JSON.stringify(defs));
      assert.equal(imp.exitCode, 0, imp.stderr);
      const limits = await api(other.mgmtUrl, "GET", "/api/vhost-limits");
      assert.deepEqual(limits.body, [{ vhost: "lim", value: { "max-queues": 11 } }]);
      const users = await api(other.mgmtUrl, "GET", "/api/user-limits");
      assert.deepEqual(users.body, [{ user: "capped", value: { "max-connections": 4 } }]);
    } finally {
      await other.stop();
    }
  });
});

describe("memory and disk alarm thresholds", { skip }, () => {
  test("set_vm_memory_high_watermark clears a memory alarm at once: the blocked publisher resumes, the log says so", async () => {
    // A watermark below what any process uses: the alarm is set at start.
    const low = await startMgmtBroker({ args: ["--vm-memory-high-watermark", "1MB"] });
    const c = (...args: string[]) => warrenctlInProcess(low.mgmtUrl, args);
    const publisher = await connect(low.broker.url);
    try {
      await low.broker.waitForLog((l) => /memory resource limit alarm set/.test(String(l.msg)));
      assert.equal((await c("check_local_alarms")).exitCode, 69);
      const blocked = new Promise<string>((resolve) => publisher.once("blocked", resolve));
      const unblocked = new Promise<void>((resolve) => publisher.once("unblocked", resolve));
      const ch = await publisher.createConfirmChannel();
      await ch.assertQueue("held", { durable: false });
      ch.sendToQueue("held", Buffer.from("waits for the alarm to clear"));
      assert.equal(await withTimeout(blocked, 5000, "connection.blocked"), "low on memory");

      const set = await c("set_vm_memory_high_watermark", "0.9");
      assert.equal(set.exitCode, 0, set.stderr);
      assert.match(set.stdout, /^Setting memory threshold on warren@\S+ to 0\.9 \.\.\.\n$/);
      await withTimeout(unblocked, 5000, "connection.unblocked");
      await withTimeout(ch.waitForConfirms(), 5000, "the held publish confirmed");
      assert.equal((await ch.checkQueue("held")).messageCount, 1);
      await low.broker.waitForLog((l) => /memory resource limit alarm cleared/.test(String(l.msg)));
      await low.broker.waitForLog((l) =>
        /^Memory high watermark set to \d+ MiB/.test(String(l.msg)),
      );
      assert.equal((await c("check_local_alarms")).exitCode, 0);
      const status = await c("status");
      assert.match(status.stdout, /\{vm_memory_high_watermark,0\.9\}/);
      const json = JSON.parse((await c("status", "--formatter", "json")).stdout);
      assert.deepEqual(json.vm_memory_high_watermark_setting, { relative: 0.9 });

      // And back: an absolute watermark below the process's memory sets it again.
      const abs = await c("set_vm_memory_high_watermark", "absolute", "2MB");
      assert.match(abs.stdout, /to 2000000 bytes \.\.\./);
      const metrics = await (await fetch(`${low.metricsUrl}/metrics`)).text();
      assert.match(metrics, /^rabbitmq_alarms_memory_used_watermark 1$/m);
      assert.match(metrics, /^rabbitmq_resident_memory_limit_bytes 2000000$/m);
      assert.equal((await c("check_local_alarms")).exitCode, 69);
      await c("set_vm_memory_high_watermark", "0.9");
    } finally {
      await publisher.close().catch(() => {});
      await low.stop();
    }
  });

  test("set_vm_memory_high_watermark and set_disk_free_limit refuse bad values as rabbitmqctl", async () => {
    for (const [args, text] of [
      [["set_vm_memory_high_watermark", "1.5"], /fraction between 0\.0 and 1\.0/],
      [["set_vm_memory_high_watermark", "absolute", "10 bananas"], /Invalid units\./],
      [["set_disk_free_limit", "lots"], /Invalid units\./],
    ] as const) {
      const r = await ctl(...args);
      assert.equal(r.exitCode, 65, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, text);
    }
    const http = await api(node.mgmtUrl, "PUT", "/api/warren/vm-memory-high-watermark", {
      relative: 2,
    });
    assert.equal(http.status, 400);
  });

  test("set_disk_free_limit above the free space sets the disk alarm; lowering it clears it", async () => {
    const r = await ctl("set_disk_free_limit", "1000000TB");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Setting disk free limit on warren@\S+ to 1000000000000000000 bytes \.\.\.\n$/,
    );
    await node.broker.waitForLog((l) => /disk resource limit alarm set/.test(String(l.msg)));
    const alarms = await ctl("check_local_alarms");
    assert.equal(alarms.exitCode, 69);
    assert.match(alarms.stderr, /disk: free disk space \d+ bytes/);
    await ctl("set_disk_free_limit", "mem_relative", "0.001");
    await node.broker.waitForLog((l) => /disk resource limit alarm cleared/.test(String(l.msg)));
    assert.equal((await ctl("check_local_alarms")).exitCode, 0);
    await ctl("set_disk_free_limit", "50MB");
  });
});
