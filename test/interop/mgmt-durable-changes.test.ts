import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { api, type MgmtBroker, startMgmtBroker } from "../support/mgmt-broker.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Change {
  readonly what: string;
  readonly method: "PUT" | "DELETE";
  readonly path: string;
  readonly body?: unknown;
  /** After the restart: is the change there? */
  check(base: string): Promise<void>;
}

const auth = `Basic ${Buffer.from("guest:guest").toString("base64")}`;

async function status(base: string, path: string): Promise<number> {
  return (await api(base, "GET", path)).status;
}

async function body(base: string, path: string): Promise<unknown> {
  const r = await api(base, "GET", path);
  assert.equal(r.status, 200, `GET ${path}`);
  return r.body;
}

const policies: Change[] = Array.from({ length: 10 }, (_, i) => ({
  what: `policy p${i}`,
  method: "PUT",
  path: `/api/policies/%2F/p${i}`,
  body: { pattern: `^p${i}$`, definition: { "message-ttl": 1000 + i }, "apply-to": "queues" },
  check: async (base) => {
    const p = (await body(base, `/api/policies/%2F/p${i}`)) as {
      definition: Record<string, number>;
    };
    assert.equal(p.definition["message-ttl"], 1000 + i);
  },
}));

const vhosts: Change[] = Array.from({ length: 3 }, (_, i) => ({
  what: `vhost v${i}`,
  method: "PUT",
  path: `/api/vhosts/v${i}`,
  check: async (base) => assert.equal(await status(base, `/api/vhosts/v${i}`), 200),
}));

const users: Change[] = Array.from({ length: 3 }, (_, i) => ({
  what: `user u${i}`,
  method: "PUT",
  path: `/api/users/u${i}`,
  body: { password: `pw${i}`, tags: "monitoring" },
  check: async (base) => {
    const u = (await body(base, `/api/users/u${i}`)) as { tags: string[] | string };
    assert.match(String(u.tags), /monitoring/);
  },
}));

const more: Change[] = [
  {
    what: "permission u0 on v0",
    method: "PUT",
    path: "/api/permissions/v0/u0",
    body: { configure: "^c$", write: "^w$", read: "^r$" },
    check: async (base) => {
      const p = (await body(base, "/api/permissions/v0/u0")) as { configure: string };
      assert.equal(p.configure, "^c$");
    },
  },
  {
    what: "vhost limit on v1",
    method: "PUT",
    path: "/api/vhost-limits/v1/max-queues",
    body: { value: 17 },
    check: async (base) => {
      const l = (await body(base, "/api/vhost-limits/v1")) as { value: Record<string, number> }[];
      assert.equal(l[0]?.value["max-queues"], 17);
    },
  },
  {
    what: "user limit on u1",
    method: "PUT",
    path: "/api/user-limits/u1/max-channels",
    body: { value: 9 },
    check: async (base) => {
      const l = (await body(base, "/api/user-limits/u1")) as { value: Record<string, number> }[];
      assert.equal(l[0]?.value["max-channels"], 9);
    },
  },
  {
    what: "policy p0 deleted",
    method: "DELETE",
    path: "/api/policies/%2F/p0",
    check: async (base) => assert.equal(await status(base, "/api/policies/%2F/p0"), 404),
  },
  {
    what: "user u2 deleted",
    method: "DELETE",
    path: "/api/users/u2",
    check: async (base) => assert.equal(await status(base, "/api/users/u2"), 404),
  },
];

describe("configuration acknowledged over HTTP survives kill -9", {
  skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
}, () => {
  test("each change is there after a kill -9 the moment its 2xx arrived", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "warren-http-durable-"));
    dirs.push(dataDir);
    const changes = [...policies, ...vhosts, ...users, ...more];
    const lost: string[] = [];
    let node: MgmtBroker = await startMgmtBroker({ dataDir });
    for (const change of changes) {
      const res = await fetch(`${node.mgmtUrl}${change.path}`, {
        method: change.method,
        headers: { authorization: auth, "content-type": "application/json" },
        body: change.body === undefined ? undefined : JSON.stringify(change.body),
      });
      // The moment the status line is in: no time for a save that had not happened yet.
      await node.broker.kill();
      node = await startMgmtBroker({ dataDir });
      if (res.status < 200 || res.status >= 300) {
        // Refused (a change it depends on was lost earlier): nothing was acknowledged.
        lost.push(`${change.what}: refused with ${res.status}`);
        continue;
      }
      try {
        await change.check(node.mgmtUrl);
      } catch (e) {
        lost.push(`${change.what}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    await node.broker.kill();
    assert.deepEqual(lost, [], "acknowledged changes lost by kill -9");
  });
});
