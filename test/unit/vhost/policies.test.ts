import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { restoreSnapshot } from "../../../src/vhost/definitions.js";
import type { Policy } from "../../../src/vhost/policies.js";
import { InProcessClient } from "../../support/in-process-client.js";

function newBroker(saved?: { snapshot?: DefinitionsSnapshot }): Broker {
  const broker = new Broker(
    DEFAULT_SETTINGS,
    silentLog,
    systemSources,
    saved
      ? {
          store: undefined as never,
          saveDefinitions: (s) => {
            saved.snapshot = s;
          },
          schedule: (fn) => fn(),
        }
      : undefined,
  );
  broker.bootstrapDefaults();
  return broker;
}

function policy(
  name: string,
  pattern: string,
  definition: Record<string, unknown>,
  extra: Partial<Policy> = {},
): Policy {
  return { vhost: "/", name, pattern, applyTo: "queues", priority: 0, definition, ...extra };
}

function declare(client: InProcessClient, queue: string, args: [string, number][] = []): void {
  client.method(1, {
    name: "queue.declare",
    queue,
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: new Map(args.map(([k, v]) => [k, { type: "I", value: v }])),
  });
  client.pump();
}

function setup() {
  const broker = newBroker();
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  return { broker, client, vhost: broker.vhosts.get("/")! };
}

test("a policy applies to existing queues at once: max-length trims what is there", () => {
  const { broker, client, vhost } = setup();
  declare(client, "reply_abc");
  for (let i = 0; i < 5; i++) client.publish(1, "", "reply_abc", `m${i}`);
  assert.equal(vhost.queues.get("reply_abc")!.messageCount, 5);
  broker.setPolicy("policy", policy("cap-replies", "^reply_", { "max-length": 2, expires: 60000 }));
  const q = vhost.queues.get("reply_abc")!;
  assert.equal(q.messageCount, 2);
  assert.equal(q.settings.policy, "cap-replies");
  assert.equal(q.settings.expiresMs, 60000);
  broker.clearPolicy("policy", "/", "cap-replies");
  assert.equal(q.settings.maxLength, undefined);
  assert.equal(q.settings.policy, undefined);
});

test("limits take the lowest of argument, policy and operator policy; the argument wins for dead-lettering", () => {
  const { broker, client, vhost } = setup();
  declare(client, "orders", [["x-message-ttl", 5000]]);
  broker.setPolicy(
    "policy",
    policy("p", "^orders$", {
      "message-ttl": 9000,
      "max-length": 100,
      "dead-letter-exchange": "from-policy",
    }),
  );
  broker.setPolicy(
    "operator_policy",
    policy("cap", ".*", { "max-length": 10, "message-ttl": 60000 }),
  );
  const s = vhost.queues.get("orders")!.settings;
  assert.equal(s.messageTtlMs, 5000, "the argument is lower");
  assert.equal(s.maxLength, 10, "the operator policy caps the policy");
  assert.equal(s.deadLetterExchange, "from-policy", "no argument: the policy's");
  assert.equal(s.operatorPolicy, "cap");
});

test("the highest-priority matching policy is the one that applies", () => {
  const { broker, client, vhost } = setup();
  declare(client, "notifications.info");
  broker.setPolicy(
    "policy",
    policy("low", "^notifications", { "max-length": 1000 }, { priority: 0 }),
  );
  broker.setPolicy("policy", policy("high", "\\.info$", { "max-length": 50 }, { priority: 5 }));
  assert.equal(vhost.queues.get("notifications.info")!.settings.policy, "high");
  assert.equal(vhost.queues.get("notifications.info")!.settings.maxLength, 50);
});

test("an alternate-exchange policy catches what an exchange cannot route", () => {
  const { broker, client, vhost } = setup();
  client.method(1, {
    name: "exchange.declare",
    exchange: "ae",
    type: "fanout",
    passive: false,
    durable: false,
    autoDelete: false,
    internal: false,
    noWait: false,
    arguments: new Map(),
  });
  client.method(1, {
    name: "exchange.declare",
    exchange: "main",
    type: "direct",
    passive: false,
    durable: false,
    autoDelete: false,
    internal: false,
    noWait: false,
    arguments: new Map(),
  });
  declare(client, "caught");
  client.method(1, {
    name: "queue.bind",
    queue: "caught",
    exchange: "ae",
    routingKey: "",
    noWait: false,
    arguments: new Map(),
  });
  broker.setPolicy(
    "policy",
    policy("ae", "^main$", { "alternate-exchange": "ae" }, { applyTo: "exchanges" }),
  );
  client.publish(1, "main", "nowhere", "unroutable");
  assert.equal(vhost.queues.get("caught")!.messageCount, 1);
});

test("ha-* keys from OpenStack's recommended policy are accepted with no effect; unknown keys are refused", () => {
  const { broker } = setup();
  broker.setPolicy(
    "policy",
    policy(
      "ha-all",
      "^(?!amq\\.).*",
      { "ha-mode": "all", "ha-sync-mode": "automatic" },
      { applyTo: "all" },
    ),
  );
  assert.ok(broker.policies.get("policy", "/", "ha-all"));
  assert.throws(
    () => broker.setPolicy("policy", policy("bad", ".*", { "max-lenght": 5 })),
    /'max-lenght' is not a recognised policy key/,
  );
  assert.throws(
    () =>
      broker.setPolicy("operator_policy", policy("bad-op", ".*", { "dead-letter-exchange": "x" })),
    /cannot be set by an operator policy/,
  );
  assert.throws(
    () => broker.setPolicy("policy", policy("bad-re", "([", { expires: 1 })),
    /not a valid regular expression/,
  );
});

/** definitions.json is built a slice at a time: the save lands on a later turn. */
const saveLanded = () => new Promise((resolve) => setImmediate(resolve));

test("policies and operator policies are saved with the definitions and restored", async () => {
  const saved: { snapshot?: DefinitionsSnapshot } = {};
  const broker = newBroker(saved);
  broker.setPolicy("policy", policy("ttl", "^rpc", { "message-ttl": 30000 }, { priority: 3 }));
  broker.setPolicy("operator_policy", policy("cap", ".*", { "max-length-bytes": 1000000 }));
  await saveLanded();
  const restored = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  restored.restoringDefinitions(() => restoreSnapshot(restored, saved.snapshot!));
  assert.deepEqual(restored.policies.list("policy"), broker.policies.list("policy"));
  assert.deepEqual(
    restored.policies.list("operator_policy"),
    broker.policies.list("operator_policy"),
  );
});

test("unroutable messages are counted per vhost and exchange, and captured once an operator asks", () => {
  const { broker, client, vhost } = setup();
  client.publish(1, "amq.direct", "nobody", "lost");
  assert.equal(vhost.unroutable, 1);
  assert.equal(vhost.exchange("amq.direct")!.unroutable, 1);
  declare(client, "unroutable.capture");
  broker.setUnroutableCapture("/", "unroutable.capture");
  client.publish(1, "amq.direct", "nobody", "kept");
  const q = vhost.queues.get("unroutable.capture")!;
  assert.equal(q.messageCount, 1);
  assert.equal(q.peekReady(1)[0]!.message.routingKey, "nobody");
  assert.equal(broker.counters.unroutableCaptured, 1);
  assert.throws(() => broker.setUnroutableCapture("/", "missing"), /does not exist/);
});

test("the unroutable capture queue is saved with the definitions and restored", async () => {
  const saved: { snapshot?: DefinitionsSnapshot } = {};
  const broker = newBroker(saved);
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  client.method(1, {
    name: "queue.declare",
    queue: "lost+found",
    passive: false,
    durable: true,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: new Map(),
  });
  client.pump();
  broker.setUnroutableCapture("/", "lost+found");
  await saveLanded();
  const restored = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  restored.restoringDefinitions(() => restoreSnapshot(restored, saved.snapshot!));
  assert.equal(restored.vhosts.get("/")!.unroutableQueue, "lost+found");
  broker.setUnroutableCapture("/", undefined);
  await saveLanded();
  const cleared = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  cleared.restoringDefinitions(() => restoreSnapshot(cleared, saved.snapshot!));
  assert.equal(cleared.vhosts.get("/")!.unroutableQueue, undefined);
});

test("deleting a vhost closes its connections with 320 and removes its queues and policies", () => {
  const broker = newBroker();
  broker.addVhost("tenant");
  broker.users.setPermission("tenant", "guest", { configure: ".*", write: ".*", read: ".*" });
  const client = new InProcessClient(broker);
  client.handshake("guest", "guest", "tenant");
  client.openChannel(1);
  declare(client, "work");
  broker.setPolicy("policy", {
    vhost: "tenant",
    name: "p",
    pattern: ".*",
    applyTo: "queues",
    priority: 0,
    definition: { expires: 1000 },
  });
  assert.ok(broker.deleteVhost("tenant"));
  const close = client.pump().find((r) => r.method.name === "connection.close")?.method;
  assert.deepEqual(
    close && {
      code: (close as { replyCode: number }).replyCode,
      text: (close as { replyText: string }).replyText,
    },
    {
      code: 320,
      text: "CONNECTION_FORCED - vhost 'tenant' is deleted",
    },
  );
  assert.equal(broker.vhosts.has("tenant"), false);
  assert.deepEqual(broker.policies.list("policy", "tenant"), []);
});
