import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "../support/amqplib-helpers.js";
import { type MgmtBroker, startMgmtBroker, warrenctlInProcess } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { warrenOnly } from "../support/warren-only.js";

// The structured log (pino JSON lines on stdout) carries the events the seed
// runbooks grep for, in words an operator finds with `grep -i`: connections
// accepted and closed with their reason, missed heartbeats, policy changes.

const skip = warrenOnly("reads Warren's log");
let node: MgmtBroker;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
});

after(async () => {
  await node?.stop();
});

const has = (re: RegExp) => (l: Record<string, unknown>) => re.test(String(l.msg));

describe("logs an operator can grep", { skip }, () => {
  test("a connection accepted and closed, with its peer and the reason", async () => {
    const c = await connect(node.broker.url);
    await c.close();
    const accepted = await node.broker.waitForLog(
      has(/^accepting AMQP connection 127\.0\.0\.1:\d+ -> /),
    );
    assert.match(String(accepted.peer), /^127\.0\.0\.1:\d+$/);
    const closed = await node.broker.waitForLog(has(/^connection closed: client closed: 200/));
    assert.equal(closed.user, "guest");
    assert.match(String(closed.reason), /client closed/);
  });

  test("a missed heartbeat is an error line with 'missed heartbeats from client'", async () => {
    const { client } = await RawAmqpClient.open(node.broker.host, node.broker.port, {
      heartbeatSec: 1,
    });
    try {
      await client.waitClosed(6000);
    } finally {
      client.destroy();
    }
    const line = await node.broker.waitForLog(has(/missed heartbeats from client, timeout: 1s/));
    assert.equal(line.level, 50, "error level, as RabbitMQ's =ERROR REPORT=");
    assert.match(
      String(line.msg),
      /^closing AMQP connection \d+ \(127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\)/,
    );
  });

  test("policy changes are logged with who made them", async () => {
    await warrenctlInProcess(node.mgmtUrl, ["set_policy", "ha-all", ".*", '{"ha-mode":"all"}']);
    const set = await node.broker.waitForLog(has(/^policy 'ha-all' set in vhost '\/'/));
    assert.deepEqual(set.definition, { "ha-mode": "all" });
    const by = await node.broker.waitForLog(has(/^policy change by user 'guest': policy 'ha-all'/));
    assert.equal(by.by, "guest");
    await warrenctlInProcess(node.mgmtUrl, ["clear_policy", "ha-all"]);
    await node.broker.waitForLog(has(/^policy 'ha-all' cleared in vhost '\/'/));
  });

  test("user, vhost and permission changes and forced closes are logged", async () => {
    await warrenctlInProcess(node.mgmtUrl, ["add_vhost", "logged"]);
    await warrenctlInProcess(node.mgmtUrl, ["add_user", "logger", "pw"]);
    await warrenctlInProcess(node.mgmtUrl, [
      "set_permissions",
      "-p",
      "logged",
      "logger",
      ".*",
      ".*",
      ".*",
    ]);
    await warrenctlInProcess(node.mgmtUrl, ["delete_vhost", "logged"]);
    for (const re of [
      /^Adding vhost 'logged'/,
      /^Created user 'logger'/,
      /^Set permissions for user 'logger' in vhost 'logged'/,
      /^Deleting vhost 'logged'/,
    ]) {
      await node.broker.waitForLog(has(re));
    }
  });
});
