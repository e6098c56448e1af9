import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, rejectsWith, withTimeout } from "../support/amqplib-helpers.js";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

// Patterns from operators and management users meet names clients choose. `^(a+)+$`
// against "aaa…a!" backtracks 2^40 times in a plain backtracking engine: hours with the
// event loop held, every heartbeat missed. Warren lets V8 rerun such a match on its
// linear-time engine (runtime/regexp-backtracking.ts); each case below must answer in
// seconds while a healthy client keeps working.

const EVIL = "^(a+)+$";
const NAME = `${"a".repeat(40)}!`;
let node: MgmtBroker;

before(async () => {
  node = await startMgmtBroker();
});
after(async () => {
  await node?.stop();
});

/** A round trip on a separate connection: the event loop is free. */
async function healthyRoundTrip(): Promise<void> {
  const conn = await connect(node.broker.url);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    ch.sendToQueue(queue, Buffer.from("still here"));
    const got = await withTimeout(
      (async () => {
        for (;;) {
          const m = await ch.get(queue, { noAck: true });
          if (m) return m.content.toString();
        }
      })(),
      5000,
      "round trip",
    );
    assert.equal(got, "still here");
  } finally {
    await conn.close();
  }
}

describe("catastrophic patterns do not stall the node", {
  skip: warrenOnly("Warren's regex engine"),
}, () => {
  test("a list filter with ?use_regex=true answers at once", async () => {
    const conn = await connect(node.broker.url);
    const ch = await conn.createChannel();
    await ch.assertQueue(NAME, { autoDelete: false });
    const started = Date.now();
    const r = await api(
      node.mgmtUrl,
      "GET",
      `/api/queues?name=${encodeURIComponent(EVIL)}&use_regex=true`,
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, [], "the pattern matches no queue");
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    await ch.deleteQueue(NAME);
    await conn.close();
    await healthyRoundTrip();
  });

  test("a permission pattern refuses the declare at once", async () => {
    assert.equal(
      (await api(node.mgmtUrl, "PUT", "/api/users/bt", { password: "bt", tags: "" })).status,
      201,
    );
    const perms = { configure: EVIL, write: EVIL, read: EVIL };
    assert.equal((await api(node.mgmtUrl, "PUT", "/api/permissions/%2F/bt", perms)).status, 201);
    const conn = await connect(node.broker.url.replace("guest:guest", "bt:bt"));
    conn.on("error", () => {});
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    const started = Date.now();
    await rejectsWith(ch.assertQueue(NAME), 403, /access to queue/);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    await conn.close().catch(() => {});
    await healthyRoundTrip();
  });

  test("a pattern only the backtracking engine can run, with nested quantifiers, is refused with 400", async () => {
    const risky = "^(?!amq\\.)(a+)+$";
    const reason = /nests quantifiers and uses a lookaround or backreference/;
    const policy = { pattern: risky, definition: { "max-length": 1 } };
    const refusals = [
      await api(node.mgmtUrl, "PUT", "/api/policies/%2F/risky", policy),
      await api(node.mgmtUrl, "PUT", "/api/permissions/%2F/guest", {
        configure: risky,
        write: ".*",
        read: ".*",
      }),
      await api(
        node.mgmtUrl,
        "GET",
        `/api/queues?name=${encodeURIComponent(risky)}&use_regex=true`,
      ),
    ];
    for (const r of refusals) {
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match((r.body as { reason: string }).reason, reason);
    }
    // guest keeps its permissions.
    await healthyRoundTrip();
  });

  test("a policy pattern is matched against a new queue at once", async () => {
    const policy = { pattern: EVIL, definition: { "max-length": 1 }, "apply-to": "queues" };
    assert.equal((await api(node.mgmtUrl, "PUT", "/api/policies/%2F/evil", policy)).status, 201);
    const conn = await connect(node.broker.url);
    const ch = await conn.createChannel();
    const started = Date.now();
    await ch.assertQueue(NAME);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    const q = await api(node.mgmtUrl, "GET", `/api/queues/%2F/${encodeURIComponent(NAME)}`);
    assert.equal(
      (q.body as { policy?: unknown }).policy ?? null,
      null,
      "the policy does not apply",
    );
    await ch.deleteQueue(NAME);
    await conn.close();
    await api(node.mgmtUrl, "DELETE", "/api/policies/%2F/evil");
    await healthyRoundTrip();
  });
});
