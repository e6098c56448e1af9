import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { HASHING_ALGORITHM } from "../../../src/vhost/password-hash.js";
import { requester, testContext } from "../../support/mgmt-context.js";

/** A broker whose definitions saves finish (or fail) when the test says. */
function slowDisk() {
  const saves: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const store = new MemoryMessageStore();
  store.recover(new Set());
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store,
    saveDefinitions: () =>
      new Promise<void>((resolve, reject) => {
        saves.push({ resolve, reject });
      }),
    schedule: (fn) => setImmediate(fn),
  });
  broker.bootstrapDefaults();
  return { broker, saves };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** The first save (of the bootstrap defaults) completes, so only the request's change is pending. */
async function settledStart(disk: ReturnType<typeof slowDisk>): Promise<void> {
  await turns(2);
  disk.saves.shift()!.resolve();
  await turns(2);
}

const CHANGES: [string, string, unknown][] = [
  ["PUT", "/api/vhosts/v2", undefined],
  ["PUT", "/api/users/alice", { password: "pw", tags: "" }],
  ["PUT", "/api/permissions/%2F/guest", { configure: "", write: ".*", read: ".*" }],
  ["PUT", "/api/policies/%2F/ttl", { pattern: ".*", definition: { "message-ttl": 1000 } }],
  ["PUT", "/api/vhost-limits/%2F/max-connections", { value: 10 }],
  ["DELETE", "/api/users/guest2", undefined],
];

for (const [method, path, body] of CHANGES) {
  test(`${method} ${path} is answered only once definitions.json holds the change`, async () => {
    const disk = slowDisk();
    await settledStart(disk);
    if (path === "/api/users/guest2") {
      // Put in place without a save of its own: only the DELETE below may start one.
      disk.broker.metadata.users.users.set("guest2", {
        name: "guest2",
        passwordHash: "",
        hashingAlgorithm: HASHING_ALGORITHM,
        tags: [],
      });
    }
    const request = requester(testContext(disk.broker));
    let status: number | undefined;
    const answered = request(method, path, body).then((r) => {
      status = r.status;
    });
    await turns(4);
    assert.equal(disk.saves.length, 1, "the change started a save");
    assert.equal(status, undefined, "no answer while the save is in flight");
    disk.saves.shift()!.resolve();
    await answered;
    assert.ok(status! >= 200 && status! < 300, `answered ${status}`);
  });
}

test("a change whose save fails is answered 503 with a JSON error, not 2xx", async () => {
  const disk = slowDisk();
  await settledStart(disk);
  const request = requester(testContext(disk.broker));
  const answer = request("PUT", "/api/vhosts/v3").catch(
    (e: { status?: number; reason?: string }) => e,
  );
  await turns(4);
  const err = new Error("could not save /data/definitions.json: ENOSPC") as NodeJS.ErrnoException;
  err.code = "ENOSPC";
  disk.saves.shift()!.reject(err);
  const e = (await answer) as { status?: number; toResponse?: () => { body: unknown } };
  assert.equal(e.status, 503);
  const response = e.toResponse!();
  assert.equal((response.body as { error: string }).error, "definitions_not_saved");
  assert.match((response.body as { reason: string }).reason, /ENOSPC/);
});

test("requests that change nothing durable do not wait for the disk", async () => {
  const disk = slowDisk();
  await settledStart(disk);
  const request = requester(testContext(disk.broker));
  // A failed save of someone else's change is pending; a read and a no-op are not held by it.
  disk.broker.addVhost("other");
  await turns(2);
  assert.equal(disk.saves.length, 1);
  assert.equal((await request("GET", "/api/vhosts")).status, 200);
  const r = await request("POST", "/api/queues/%2F/missing/get", {
    count: 1,
    ackmode: "ack_requeue_true",
  }).catch((e: { status: number }) => e);
  assert.equal(r.status, 404);
});
