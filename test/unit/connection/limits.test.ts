import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient } from "../../support/in-process-client.js";

function broker(settings = {}): Broker {
  const b = new Broker({ ...DEFAULT_SETTINGS, ...settings }, silentLog, systemSources);
  b.bootstrapDefaults();
  return b;
}

function closeOf(client: InProcessClient) {
  const m = client.received.find((r) => r.method.name === "connection.close")?.method as
    | { replyCode: number; replyText: string }
    | undefined;
  return m && { code: m.replyCode, text: m.replyText };
}

test("the node connection limit refuses the next connection with 530 and counts it", () => {
  const b = broker({ maxConnections: 2 });
  const clients = [1, 2, 3].map(() => {
    const c = new InProcessClient(b);
    c.handshake();
    return c;
  });
  assert.equal(closeOf(clients[0]!), undefined);
  assert.equal(closeOf(clients[1]!), undefined);
  assert.deepEqual(closeOf(clients[2]!), {
    code: 530,
    text: "NOT_ALLOWED - connection refused: node connection limit (2) is reached",
  });
  assert.equal(b.counters.refusedByLimit.node_connections, 1);
  // One leaves: there is room again.
  clients[0]!.method(0, {
    name: "connection.close",
    replyCode: 200,
    replyText: "bye",
    classId: 0,
    methodId: 0,
  });
  const again = new InProcessClient(b);
  again.handshake();
  assert.equal(closeOf(again), undefined);
});

test("vhost and user connection limits use RabbitMQ's texts", () => {
  const b = broker();
  b.vhosts.get("/")!.limits = { maxConnections: 1 };
  new InProcessClient(b).handshake();
  const second = new InProcessClient(b);
  second.handshake();
  assert.deepEqual(closeOf(second), {
    code: 530,
    text: "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached",
  });
  const b2 = broker();
  b2.users.users.get("guest")!.limits = { maxConnections: 1 };
  new InProcessClient(b2).handshake();
  const other = new InProcessClient(b2);
  other.handshake();
  assert.deepEqual(closeOf(other), {
    code: 530,
    text: "NOT_ALLOWED - connection refused for user 'guest': user connection limit (1) is reached",
  });
});

test("the vhost queue limit refuses a new queue with 406 and leaves existing ones alone", () => {
  const b = broker();
  b.vhosts.get("/")!.limits = { maxQueues: 1 };
  const c = new InProcessClient(b);
  c.handshake();
  c.openChannel(1);
  const declare = (queue: string) =>
    c.method(1, {
      name: "queue.declare",
      queue,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      noWait: false,
      arguments: new Map(),
    });
  declare("one");
  declare("one"); // redeclaring an existing queue is fine
  declare("two");
  const close = c.pump().find((r) => r.method.name === "channel.close")?.method as {
    replyCode: number;
    replyText: string;
  };
  assert.deepEqual(
    { code: close.replyCode, text: close.replyText },
    {
      code: 406,
      text: "PRECONDITION_FAILED - cannot declare queue 'two': queue limit in vhost '/' (1) is reached",
    },
  );
  assert.equal(b.counters.refusedByLimit.vhost_queues, 1);
});

test("the user channel limit closes the connection with 530 and frees a place when a channel closes", () => {
  const b = broker();
  b.users.users.get("guest")!.limits = { maxChannels: 2 };
  const c = new InProcessClient(b);
  c.handshake();
  c.openChannel(1);
  c.openChannel(2);
  c.method(2, { name: "channel.close", replyCode: 200, replyText: "", classId: 0, methodId: 0 });
  c.openChannel(3);
  assert.equal(closeOf(c), undefined, "closing channel 2 freed a place");
  c.openChannel(4);
  assert.deepEqual(closeOf(c), {
    code: 530,
    text: "NOT_ALLOWED - number of channels opened for user 'guest' has reached the maximum allowed user limit of (2)",
  });
});

test("a negative limit is no limit and 0 allows none, as RabbitMQ's", () => {
  const b = broker();
  b.vhosts.get("/")!.limits = { maxConnections: -1, maxQueues: -1 };
  const clients = [1, 2, 3].map(() => {
    const c = new InProcessClient(b);
    c.handshake();
    return c;
  });
  assert.deepEqual(clients.map(closeOf), [undefined, undefined, undefined]);
  clients[0]!.openChannel(1);
  for (const q of ["a", "b", "c"]) {
    clients[0]!.method(1, {
      name: "queue.declare",
      queue: q,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      noWait: false,
      arguments: new Map(),
    });
  }
  assert.equal(b.vhosts.get("/")!.queues.size, 3);
  b.vhosts.get("/")!.limits = { maxConnections: 0 };
  const refused = new InProcessClient(b);
  refused.handshake();
  assert.deepEqual(closeOf(refused), {
    code: 530,
    text: "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (0) is reached",
  });
});

test("ten failed logins from one address start a cool-off; a good login clears the record", () => {
  const b = broker();
  for (let i = 0; i < 10; i++) {
    // The login is refused, so the handshake never gets to connection.tune.
    assert.throws(
      () => new InProcessClient(b, "10.0.0.7").handshake("guest", "wrong"),
      /no connection.tune/,
    );
  }
  assert.ok(b.loginThrottle.coolingOff("10.0.0.7", Date.now()) > 25_000);
  assert.equal(
    b.loginThrottle.coolingOff("10.0.0.8", Date.now()),
    0,
    "other addresses are not affected",
  );
  b.loginThrottle.succeeded("10.0.0.7");
  assert.equal(b.loginThrottle.coolingOff("10.0.0.7", Date.now()), 0);
  assert.equal(b.counters.loginFailures, 10);
});

test("during the cool-off even the right password is refused with 403, unchecked, and logged with the reason", () => {
  let now = 1_000_000;
  const lines: string[] = [];
  const log = { ...silentLog, error: (_: unknown, msg: string) => lines.push(msg) };
  const b = new Broker(DEFAULT_SETTINGS, log, { ...systemSources, clock: () => now });
  b.bootstrapDefaults();
  // Not guest: guest may only log in from loopback, and these come from 10.0.0.x.
  b.addUser("ops", "ops-password");
  b.users.setPermission("/", "ops", { configure: ".*", write: ".*", read: ".*" });
  for (let i = 0; i < 10; i++) {
    assert.throws(() => new InProcessClient(b, "10.0.0.7").handshake("ops", "wrong"));
  }
  lines.length = 0;
  const refused = [1, 2, 3].map(() => {
    const c = new InProcessClient(b, "10.0.0.7");
    assert.throws(() => c.handshake("ops", "ops-password"), /no connection.tune/);
    return c;
  });
  for (const c of refused) {
    assert.deepEqual(closeOf(c), {
      code: 403,
      text: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
    });
  }
  const reasons = lines.filter((l) => l.includes("login refused"));
  assert.equal(reasons.length, 3, "each refusal says why in the log");
  assert.match(
    reasons[0]!,
    /PLAIN login refused: too many failed logins from 10\.0\.0\.7; refused for another 30 s$/,
  );
  assert.equal(b.counters.loginFailures, 10, "refusals in the cool-off are not failures");
  // Other addresses log in as usual meanwhile.
  const other = new InProcessClient(b, "10.0.0.8");
  other.handshake("ops", "ops-password");
  assert.equal(other.conn.state, "open");
  // The cool-off ends 30 s after the tenth failure, however often the address retried.
  now += 30_001;
  const after = new InProcessClient(b, "10.0.0.7");
  after.handshake("ops", "ops-password");
  assert.equal(after.conn.state, "open");
});
