import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Connection, connect, sleep, take } from "../support/amqplib-helpers.js";
import { api, type MgmtBroker, startMgmtBroker, warrenctl } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// Issue 4, item 8: unroutable messages are counted, and an operator can have them kept in
// a queue of their choosing, with the real bin/warrenctl.js and no change to the publisher
// (amqplib, publishing without mandatory to a key nothing is bound to).

const skip = warrenOnly("turns on Warren's unroutable capture");
let node: MgmtBroker;
let conn: Connection;

before(async () => {
  if (skip) return;
  node = await startMgmtBroker();
  conn = await connect(node.broker.url);
});

after(async () => {
  await conn?.close().catch(() => {});
  await node?.stop();
});

async function ctl(...args: string[]) {
  const r = await warrenctl(node.mgmtUrl, args);
  assert.equal(r.exitCode, 0, `warrenctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** list_unroutable's row for vhost "/": [count, capture queue]. */
async function rootRow(): Promise<[number, string]> {
  const out = await ctl("-q", "list_unroutable", "--no-table-headers");
  const row = out.split("\n").find((l) => l.startsWith("/\t"));
  assert.ok(row, `no row for / in ${JSON.stringify(out)}`);
  const [, count, queue] = row.split("\t");
  return [Number(count), queue ?? ""];
}

describe("unroutable capture with warrenctl", { skip }, () => {
  test("unroutable publishes are counted; once captured they land in the operator's queue; cleared, they are dropped again", async () => {
    const ch = await conn.createChannel();
    const [before] = await rootRow();
    ch.publish("amq.direct", "nobody.listens", Buffer.from("lost 1"));
    await sleep(200);
    assert.deepEqual(await rootRow(), [before + 1, ""]);

    // The queue must exist first: the refusal names it.
    const missing = await warrenctl(node.mgmtUrl, ["set_unroutable_capture", "lost+found"]);
    assert.notEqual(missing.exitCode, 0);
    assert.match(
      missing.stderr + missing.stdout,
      /queue 'lost\+found' does not exist in vhost '\/'/,
    );

    await ch.assertQueue("lost+found", { durable: true });
    const set = await ctl("set_unroutable_capture", "lost+found");
    assert.match(set, /Capturing unroutable messages of vhost "\/" in queue "lost\+found"/);
    ch.publish("amq.direct", "nobody.listens", Buffer.from("kept 1"), { messageId: "k1" });
    const [kept] = await take(ch, "lost+found", 1);
    assert.equal(kept!.content.toString(), "kept 1");
    assert.equal(kept!.properties.messageId, "k1");
    assert.equal(kept!.fields.exchange, "amq.direct", "the original exchange is kept");
    assert.equal(kept!.fields.routingKey, "nobody.listens", "and the original routing key");
    assert.deepEqual(await rootRow(), [before + 2, "lost+found"]);
    await node.broker.waitForLog((l) =>
      String(l.msg).includes("unroutable capture change by user 'guest' in vhost '/'"),
    );

    await ctl("clear_unroutable_capture");
    ch.publish("amq.direct", "nobody.listens", Buffer.from("lost 2"));
    await sleep(200);
    const q = await ch.checkQueue("lost+found");
    assert.equal(q.messageCount, 0, "after clear_unroutable_capture nothing more is kept");
    assert.deepEqual(await rootRow(), [before + 3, ""]);
    await ch.close();
  });

  test("only policymakers and administrators may change it", async () => {
    const user = await api(node.mgmtUrl, "PUT", "/api/users/watcher", {
      password: "watcher",
      tags: "management",
    });
    assert.ok(user.status === 201 || user.status === 204, `add user: ${user.status}`);
    await api(node.mgmtUrl, "PUT", "/api/permissions/%2F/watcher", {
      configure: ".*",
      write: ".*",
      read: ".*",
    });
    const refused = await api(
      node.mgmtUrl,
      "PUT",
      "/api/warren/unroutable/%2F",
      { capture_queue: "lost+found" },
      ["watcher", "watcher"],
    );
    assert.equal(refused.status, 401);
    assert.match(JSON.stringify(refused.body), /Not policymaker user/);
    const seen = await api(node.mgmtUrl, "GET", "/api/warren/unroutable/%2F", undefined, [
      "watcher",
      "watcher",
    ]);
    assert.equal(seen.status, 200);
    assert.equal((seen.body as { vhost: string }[])[0]!.vhost, "/");
  });
});
