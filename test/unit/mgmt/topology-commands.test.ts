import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

/** A broker whose definitions saves finish (or fail) when the test says. */
async function slowDisk() {
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
  await turns(2);
  saves.shift()!.resolve();
  await turns(2);
  return { broker, saves, call: requester(testContext(broker)) };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A request's answer, an HttpError thrown by the handler included. */
const response = (e: unknown) =>
  (e as { toResponse(): { status: number; body?: unknown } }).toResponse();

const CHANGES: [string, string, unknown][] = [
  ["PUT", "/api/queues/%2F/dq", { durable: true }],
  ["PUT", "/api/exchanges/%2F/dx", { type: "fanout", durable: true }],
  ["POST", "/api/bindings/%2F/e/amq.direct/q/existing", { routing_key: "k" }],
  ["DELETE", "/api/queues/%2F/existing", undefined],
  ["DELETE", "/api/exchanges/%2F/existing-x", undefined],
];

for (const [method, path, body] of CHANGES) {
  test(`${method} ${path} submits its command and is answered once definitions.json holds it`, async () => {
    const disk = await slowDisk();
    const setup = Promise.all([
      disk.call("PUT", "/api/queues/%2F/existing", { durable: true }),
      disk.call("PUT", "/api/exchanges/%2F/existing-x", { type: "direct" }),
    ]);
    let done = false;
    setup.then(() => {
      done = true;
    });
    while (!done) {
      await turns(1);
      disk.saves.shift()?.resolve();
    }
    let status: number | undefined;
    const answered = disk.call(method, path, body).then((r) => {
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

// It was 400 with the AMQP channel's 506 text: a full disk reported as the client's bad request.
test("an HTTP declare whose save fails is answered 503, as every other HTTP change: the queue exists but is not on disk", async () => {
  const disk = await slowDisk();
  const answer = disk.call("PUT", "/api/queues/%2F/dq", { durable: true }).catch(response);
  await turns(4);
  const err = new Error("could not save /data/definitions.json: ENOSPC") as NodeJS.ErrnoException;
  err.code = "ENOSPC";
  disk.saves.shift()!.reject(err);
  const r = await answer;
  assert.equal(r.status, 503);
  assert.match((r.body as { reason: string }).reason, /could not be saved to disk .*ENOSPC/);
  assert.ok(disk.broker.vhosts.get("/")!.queues.has("dq"));
});

test("a user at its channel limit is refused an HTTP declare as a client is refused a channel", async () => {
  const broker = memoryBroker();
  broker.users.users.get("guest")!.limits = { maxChannels: 0 };
  const call = requester(testContext(broker));
  const r = await call("PUT", "/api/queues/%2F/q", {}).catch(response);
  assert.deepEqual(r, {
    status: 400,
    body: {
      error: "bad_request",
      reason:
        "number of channels opened for user 'guest' has reached the maximum allowed user limit of (0)",
    },
  });
  assert.equal(broker.vhosts.get("/")!.queues.has("q"), false);
  assert.equal(broker.channelsByUser.get("guest"), undefined, "nothing left counted");
});

test("another connection's exclusive queue is locked for the management API: declare, bind and delete get the 405 text", async () => {
  const broker = memoryBroker();
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  client.declareQueue(1, "mine", { exclusive: true });
  const call = requester(testContext(broker));
  const locked =
    "cannot obtain exclusive access to locked queue 'mine' in vhost '/'. It could be originally " +
    "declared on another connection or the exclusive property value does not match that of the original declaration.";
  for (const [method, path, body] of [
    ["PUT", "/api/queues/%2F/mine", { durable: false }],
    ["POST", "/api/bindings/%2F/e/amq.direct/q/mine", { routing_key: "k" }],
    ["DELETE", "/api/queues/%2F/mine", undefined],
  ] as const) {
    const r = await call(method, path, body).catch(response);
    assert.equal(r.status, 400, `${method} ${path}`);
    assert.equal((r.body as { reason: string }).reason, locked, `${method} ${path}`);
  }
  assert.ok(broker.vhosts.get("/")!.queues.has("mine"));
  assert.equal(broker.vhosts.get("/")!.allBindings().length, 0);
});

test("deleting a queue over HTTP takes its bindings and an auto-delete exchange left with none", async () => {
  const broker = memoryBroker();
  const call = requester(testContext(broker));
  await call("PUT", "/api/queues/%2F/q", {});
  await call("PUT", "/api/exchanges/%2F/fan", { type: "fanout", auto_delete: true });
  await call("POST", "/api/bindings/%2F/e/fan/q/q", {});
  assert.equal((await call("DELETE", "/api/queues/%2F/q")).status, 204);
  const vhost = broker.vhosts.get("/")!;
  assert.equal(vhost.exchanges.has("fan"), false);
  assert.deepEqual(vhost.allBindings(), []);
});
