import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessClient, testBroker } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

const REASON = "node warren@b cannot see a majority of the cluster";

/** The connection.close the client has received, if any. */
function connectionClose(client: InProcessClient) {
  client.pump();
  const close = client.received.find((r) => r.method.name === "connection.close")?.method;
  return close?.name === "connection.close"
    ? { code: close.replyCode, text: close.replyText }
    : undefined;
}

test("a paused node closes every client with 320 and the reason, refuses new ones, and serves again on resume", () => {
  const broker = testBroker();
  const clients = [new InProcessClient(broker), new InProcessClient(broker)];
  for (const c of clients) {
    c.handshake();
    c.openChannel(1);
    c.pump();
  }
  broker.pause(REASON);
  for (const c of clients) {
    assert.deepEqual(connectionClose(c), { code: 320, text: `CONNECTION_FORCED - ${REASON}` });
  }
  // One that passed the listener's check before the pause is refused at connection.open.
  const late = new InProcessClient(broker);
  late.handshake();
  assert.deepEqual(connectionClose(late), { code: 320, text: `CONNECTION_FORCED - ${REASON}` });

  broker.resume();
  const after = new InProcessClient(broker);
  after.handshake();
  after.openChannel(1);
  assert.deepEqual(
    after.pump().map((r) => r.method.name),
    [],
    "the channel opened without a close",
  );
  assert.equal(after.conn.state, "open");
});

test("a paused node's health checks answer 503 with the reason; the alarm checks are unaffected", async () => {
  const broker = memoryBroker();
  const call = requester(testContext(broker));
  for (const path of ["is-in-service", "virtual-hosts", "metadata-store/initialized"]) {
    assert.equal((await call("GET", `/api/health/checks/${path}`)).status, 200, path);
  }
  broker.pause(REASON);
  for (const path of [
    "/api/health/checks/is-in-service",
    "/api/health/checks/virtual-hosts",
    "/api/health/checks/metadata-store/initialized",
    "/api/health/checks/ready-to-serve-clients",
    "/api/aliveness-test/%2F",
  ]) {
    const r = await call("GET", path);
    assert.equal(r.status, 503, path);
    assert.deepEqual(r.body, { status: "failed", reason: REASON }, path);
  }
  assert.equal((await call("GET", "/api/health/checks/alarms")).status, 200);
  broker.resume();
  assert.equal((await call("GET", "/api/health/checks/is-in-service")).status, 200);
  assert.equal((await call("GET", "/api/aliveness-test/%2F")).status, 200);
});
