import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  METADATA_GROUP_ID,
  MetadataUnavailableError,
} from "../../../../src/cluster/metadata/index.js";
import { silentLog } from "../../../../src/log.js";
import { AmqpError } from "../../../../src/protocol/amqp-error.js";
import { systemSources } from "../../../../src/runtime/system-sources.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import type {
  MetadataCommand,
  QueueDeclare,
} from "../../../../src/vhost/commands/command-types.js";
import { openClient } from "../../../support/in-process-client.js";
import { digest } from "../../../support/metadata-commands.js";
import { requester, testContext } from "../../../support/mgmt-context.js";
import { assertLiveMirrorsState } from "./live-topology.js";
import { MetadataCluster, type MetaNode, waitFor } from "./metadata-cluster.js";

const clusters: MetadataCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

async function cluster(options: Parameters<typeof MetadataCluster.start>[1] = {}) {
  const c = await MetadataCluster.start(["a", "b", "c"], options);
  clusters.push(c);
  await c.waitForLeader();
  await c.bootstrap();
  await c.converged();
  return c;
}

function followerOf(c: MetadataCluster): MetaNode {
  const leader = c.leader()!;
  return [...c.nodes.values()].find((n) => n !== leader)!;
}

const durableQueue = (queue: string): QueueDeclare => ({
  type: "queue.declare",
  vhost: "/",
  queue,
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
  client: {},
});

function assertSameEverywhere(c: MetadataCluster): void {
  const nodes = [...c.nodes.values()];
  for (const n of nodes) {
    assert.deepEqual(
      digest(n.broker.metadata),
      digest(nodes[0].broker.metadata),
      `${n.id}'s state`,
    );
    assertLiveMirrorsState(n.broker);
  }
}

test("a queue, exchange and binding declared on a follower are applied there when submit resolves, and on every node", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  const topology: MetadataCommand[] = [
    durableQueue("orders"),
    {
      type: "exchange.declare",
      vhost: "/",
      exchange: "shop",
      exchangeType: "topic",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
      client: {},
    },
    {
      type: "binding.add",
      vhost: "/",
      source: "shop",
      destinationKind: "queue",
      destination: "orders",
      routingKey: "order.#",
      arguments: {},
      client: {},
    },
  ];
  for (const command of topology) await follower.broker.submit(command);
  // Read your writes: the follower's own state and live vhost hold it as submit resolves.
  const live = follower.broker.vhosts.get("/")!;
  assert.ok(live.queues.get("orders")?.isDurable);
  assert.equal(live.exchanges.get("shop")?.definition.type, "topic");
  assert.equal(live.bindingsOf(live.queues.get("orders")!).length, 1);
  await c.converged();
  for (const n of c.nodes.values()) {
    const v = n.broker.vhosts.get("/")!;
    assert.ok(v.queues.has("orders"), `${n.id} has the queue`);
    assert.ok(v.exchanges.has("shop"), `${n.id} has the exchange`);
    assert.equal(v.bindingsOf(v.queues.get("orders")!).length, 1, `${n.id} has the binding`);
  }
  assertSameEverywhere(c);
  // The queue lives where its client declared it; a redeclaration elsewhere does not move it.
  await c.leader()!.broker.submit(durableQueue("orders"));
  await c.converged();
  for (const n of c.nodes.values())
    assert.equal(n.broker.metadata.vhosts.get("/")!.queues.get("orders")!.home, follower.id);
  // The replies did not wait for a definitions.json save: the commit is the durable record.
  assert.equal(follower.broker.definitionsSaved(), undefined);
});

test("a declaration the definitions refuse is refused on a follower with the single node's error (406 from its own state, 404 through the log), and changes nothing", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  await c.leader()!.broker.submit(durableQueue("q"));
  await c.converged();
  const inequivalent: QueueDeclare = { ...durableQueue("q"), durable: false };
  const single = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  single.bootstrapDefaults();
  single.submitNow(durableQueue("q"));
  let expected: unknown;
  try {
    single.submitNow(inequivalent);
  } catch (e) {
    expected = e;
  }
  assert.ok(expected instanceof AmqpError && expected.replyCode === 406);
  const before = JSON.stringify(digest(follower.broker.metadata));
  // Answered from the follower's own state (the queue is there): thrown as one node throws it.
  assert.throws(
    () => follower.broker.submit(inequivalent),
    (e: unknown) => {
      assert.ok(e instanceof AmqpError);
      assert.equal(e.replyCode, expected.replyCode);
      assert.equal(e.replyText, expected.replyText);
      assert.equal(e.scope, expected.scope);
      return true;
    },
  );
  // A refusal only the log can give (nothing of that name here): the same 404 as one node.
  const bind: MetadataCommand = {
    type: "binding.add",
    vhost: "/",
    source: "amq.direct",
    destinationKind: "queue",
    destination: "missing",
    routingKey: "k",
    arguments: {},
    client: {},
  };
  const leaderIndex = c.leader()!.meta.machine.appliedIndex();
  let expected404: unknown;
  try {
    single.submitNow(bind);
  } catch (e) {
    expected404 = e;
  }
  assert.ok(expected404 instanceof AmqpError && expected404.replyCode === 404);
  await assert.rejects(
    async () => follower.broker.submit(bind),
    (e: unknown) => {
      assert.ok(e instanceof AmqpError);
      assert.equal(e.replyText, expected404.replyText);
      return true;
    },
  );
  assert.ok(c.leader()!.meta.machine.appliedIndex() > leaderIndex, "it went through the log");
  await c.converged();
  assert.equal(JSON.stringify(digest(follower.broker.metadata)), before);
  assertSameEverywhere(c);
});

test("over AMQP on a follower: declare-ok comes once the group applied the queue, and an inequivalent redeclare closes the channel with 406", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  const client = openClient(follower.broker);
  const waitForMethod = async (name: string) => {
    await waitFor(
      () => {
        client.pump();
        return client.names().includes(name);
      },
      5000,
      name,
    );
    return client.received.find((r) => r.method.name === name)!.method;
  };
  client.declareQueue(1, "rpc", { durable: true });
  const ok = await waitForMethod("queue.declare-ok");
  assert.equal(ok.name === "queue.declare-ok" && ok.queue, "rpc");
  await c.converged();
  for (const n of c.nodes.values()) assert.ok(n.broker.vhosts.get("/")!.queues.has("rpc"), n.id);
  client.declareQueue(1, "rpc", { durable: false });
  const close = await waitForMethod("channel.close");
  // The single node's answer to the same declaration.
  const single = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  single.bootstrapDefaults();
  const alone = openClient(single);
  alone.declareQueue(1, "rpc", { durable: true });
  alone.pump();
  alone.declareQueue(1, "rpc", { durable: false });
  const aloneClose = alone.pump().find((r) => r.method.name === "channel.close")!.method;
  assert.deepEqual(close, aloneClose);
  assert.equal(close.name === "channel.close" && close.replyCode, 406);
});

test("1,000 declares from every node while the leader is isolated midway: each that resolved is on every node, once", async (t) => {
  const c = await cluster({ timeoutMs: 2000 });
  const nodes = [...c.nodes.values()];
  const total = 1000;
  const resolved: string[] = [];
  const created = new Map<string, number>();
  const refusals: string[] = [];
  let next = 0;
  let isolated: string | undefined;
  let healTimer: NodeJS.Timeout | undefined;
  let leaderWhileIsolated: string | undefined;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      if (i === 300) {
        isolated = c.leader()!.id;
        c.isolate(isolated);
        healTimer = setTimeout(() => {
          leaderWhileIsolated = c.leader()?.id;
          c.heal();
        }, 1500);
      }
      const name = `q${i}`;
      try {
        const applied = await nodes[i % nodes.length].broker.submit(durableQueue(name));
        resolved.push(name);
        if (applied.result.created) created.set(name, (created.get(name) ?? 0) + 1);
      } catch (e) {
        assert.ok(e instanceof MetadataUnavailableError, String(e));
        refusals.push(e.reason);
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  clearTimeout(healTimer);
  c.heal();
  const newLeader = await c.waitForLeader();
  await c.converged(10_000);
  assert.ok(isolated !== undefined);
  assert.ok(resolved.length >= 600, `only ${resolved.length} of ${total} resolved`);
  for (const n of c.nodes.values()) {
    const queues = n.broker.metadata.vhosts.get("/")!.queues;
    const missing = resolved.filter((name) => !queues.has(name));
    assert.deepEqual(missing, [], `${n.id} lacks declares that resolved`);
    const ids = [...queues.values()].map((q) => q.id);
    assert.equal(new Set(ids).size, ids.length, `${n.id}: every queue has its own id`);
  }
  assert.deepEqual(
    [...created].filter(([, count]) => count > 1),
    [],
    "no declare created its queue twice",
  );
  assertSameEverywhere(c);
  const forwarded = nodes.reduce((n, node) => n + node.meta.commands.stats.forwarded, 0);
  assert.ok(forwarded >= 500, `followers forwarded their declares (${forwarded})`);
  // The leader changed in the middle: the majority elected another while it was cut off.
  assert.ok(leaderWhileIsolated !== undefined && leaderWhileIsolated !== isolated);
  t.diagnostic(
    `${resolved.length} resolved, ${refusals.length} refused (${[...new Set(refusals)]}), ` +
      `leader ${isolated} isolated, ${leaderWhileIsolated} led meanwhile, ${newLeader.id} leads now`,
  );
});

test("a follower cut off while changes are made catches up from the log when the link heals", async () => {
  const c = await cluster();
  const leader = c.leader()!;
  const cutOff = followerOf(c);
  c.isolate(cutOff.id);
  for (let i = 0; i < 30; i++) await leader.broker.submit(durableQueue(`while-away-${i}`));
  assert.equal(cutOff.broker.vhosts.get("/")!.queues.has("while-away-0"), false);
  c.heal();
  await c.converged();
  assertSameEverywhere(c);
});

test("a follower cut off past the leader's compaction catches up from a snapshot", async () => {
  const c = await cluster({ snapshotEveryEntries: 16 });
  const leader = c.leader()!;
  const cutOff = followerOf(c);
  c.isolate(cutOff.id);
  const appliedBefore = cutOff.meta.machine.appliedIndex();
  for (let i = 0; i < 60; i++) await leader.broker.submit(durableQueue(`while-away-${i}`));
  const leaderStatus = leader.driver.machine(METADATA_GROUP_ID)!.status();
  assert.ok(
    leaderStatus.firstIndex > appliedBefore + 1,
    `the leader's log starts at ${leaderStatus.firstIndex}: the entries after ${appliedBefore} are gone`,
  );
  c.heal();
  await c.converged();
  assertSameEverywhere(c);
  assert.ok(cutOff.meta.machine.appliedIndex() > appliedBefore);
});

test("the minority side applies nothing: its submits are refused with 506 after the bound, and the change is nowhere", async () => {
  const c = await cluster({ timeoutMs: 1200 });
  const oldLeader = c.leader()!;
  c.isolate(oldLeader.id);
  const before = JSON.stringify(digest(oldLeader.broker.metadata));
  const started = Date.now();
  await assert.rejects(
    oldLeader.broker.submit(durableQueue("minority")) as Promise<unknown>,
    (e: unknown) => {
      assert.ok(e instanceof MetadataUnavailableError);
      assert.equal(e.replyCode, 506);
      assert.equal(e.scope, "channel");
      assert.match(e.replyText, /^RESOURCE_ERROR - the metadata store is unavailable/);
      return true;
    },
  );
  assert.ok(Date.now() - started >= 1000, "it waited for the bound, not less");
  assert.equal(JSON.stringify(digest(oldLeader.broker.metadata)), before, "applied nothing");
  // The majority goes on without it.
  const majority = [...c.nodes.values()].filter((n) => n !== oldLeader);
  await waitFor(
    () => majority.some((n) => n.driver.machine(METADATA_GROUP_ID)!.status().role === "leader"),
    5000,
    "a leader among the majority",
  );
  await majority[0].broker.submit(durableQueue("majority"));
  // A follower cut off alone is refused too, and says the change was not made.
  c.heal();
  await c.converged();
  const lonely = followerOf(c);
  c.isolate(lonely.id);
  await assert.rejects(
    lonely.broker.submit(durableQueue("lonely")) as Promise<unknown>,
    (e: unknown) => {
      assert.ok(e instanceof MetadataUnavailableError);
      assert.equal(e.reason, "noLeader");
      assert.match(e.replyText, /the change was not made/);
      return true;
    },
  );
  c.heal();
  await c.converged();
  for (const n of c.nodes.values()) {
    const queues = n.broker.metadata.vhosts.get("/")!.queues;
    assert.equal(queues.has("minority"), false, `${n.id} has the minority's queue`);
    assert.equal(queues.has("lonely"), false, `${n.id} has the lonely queue`);
    assert.ok(queues.has("majority"), `${n.id} lacks the majority's queue`);
  }
  assertSameEverywhere(c);
});

test("a node restarted on its file log rebuilds its definitions and live topology from its snapshot and log alone", async () => {
  const c = await cluster({ store: "file", snapshotEveryEntries: 8 });
  const restarted = followerOf(c);
  // The node's state at each index it applied, to compare with what it rebuilds.
  const seen = new Map<number, string>();
  for (let i = 0; i < 20; i++) {
    await c.leader()!.broker.submit(durableQueue(`kept-${i}`));
    await c.converged();
    seen.set(
      restarted.meta.machine.appliedIndex(),
      JSON.stringify(digest(restarted.broker.metadata)),
    );
  }
  await c.crash(restarted.id);
  // Alone after the restart: what it holds comes from its own disk.
  c.isolate(restarted.id);
  const again = await c.restart(restarted.id);
  assert.notEqual(again.broker, restarted.broker);
  const persisted = again.store.load(METADATA_GROUP_ID)!;
  const durable = Math.max(persisted.snapshot.meta.index, persisted.hardState.commitIndex);
  assert.ok(persisted.snapshot.meta.index > 0, "it had compacted into a snapshot");
  await waitFor(
    () => again.meta.machine.appliedIndex() >= durable,
    5000,
    "the node re-applied its log",
  );
  assert.equal(
    JSON.stringify(digest(again.broker.metadata)),
    seen.get(again.meta.machine.appliedIndex()),
  );
  assertLiveMirrorsState(again.broker);
  c.heal();
  await c.converged();
  assertSameEverywhere(c);
});

test("a closed connection's exclusive queue and an auto-delete queue's last consumer leaving delete them on every node, without waiting", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  const client = openClient(follower.broker);
  const pumpUntil = async (name: string) =>
    waitFor(
      () => {
        client.pump();
        return client.names().filter((n) => n === name).length > 0;
      },
      5000,
      name,
    );
  client.declareQueue(1, "mine", { exclusive: true });
  await pumpUntil("queue.declare-ok");
  client.method(1, {
    name: "queue.declare",
    queue: "fleeting",
    passive: false,
    durable: false,
    exclusive: false,
    autoDelete: true,
    noWait: false,
    arguments: new Map(),
  });
  await waitFor(
    () => {
      client.pump();
      return client.names().filter((n) => n === "queue.declare-ok").length === 2;
    },
    5000,
    "the second declare-ok",
  );
  await c.converged();
  for (const n of c.nodes.values()) {
    const queues = n.broker.metadata.vhosts.get("/")!.queues;
    assert.ok(queues.has("mine") && queues.has("fleeting"), `${n.id} has both queues`);
  }
  client.method(1, {
    name: "basic.consume",
    queue: "fleeting",
    consumerTag: "t",
    noLocal: false,
    noAck: true,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  await pumpUntil("basic.consume-ok");
  client.method(1, { name: "basic.cancel", consumerTag: "t", noWait: false });
  await pumpUntil("basic.cancel-ok");
  client.conn.socketClosed();
  await waitFor(
    () =>
      [...c.nodes.values()].every((n) => {
        const queues = n.broker.metadata.vhosts.get("/")!.queues;
        return !queues.has("mine") && !queues.has("fleeting");
      }),
    5000,
    "both queues gone from every node",
  );
  await c.converged();
  assertSameEverywhere(c);
});

test("over AMQP on a node cut off from the majority: the declare's channel closes with 506 after the bound, the connection and its other channels stay", async () => {
  const c = await cluster({ timeoutMs: 800 });
  const node = followerOf(c);
  const client = openClient(node.broker);
  c.isolate(node.id);
  client.declareQueue(1, "cut-off", { durable: true });
  await waitFor(
    () => {
      client.pump();
      return client.names().includes("channel.close");
    },
    5000,
    "channel.close",
  );
  const close = client.received.find((r) => r.method.name === "channel.close")!.method;
  assert.ok(close.name === "channel.close");
  assert.equal(close.replyCode, 506);
  assert.match(
    close.replyText,
    /^RESOURCE_ERROR - the metadata store is unavailable: .*the change was not made/,
  );
  assert.equal(client.closedSocket, false);
  // The connection goes on: another channel reads the local definitions at once.
  client.openChannel(2);
  client.method(2, {
    name: "exchange.declare",
    exchange: "amq.direct",
    type: "direct",
    passive: true,
    durable: true,
    autoDelete: false,
    internal: false,
    noWait: false,
    arguments: new Map(),
  });
  const after = client.pump().map((r) => r.method.name);
  assert.ok(after.includes("exchange.declare-ok"), after.join(", "));
  c.heal();
});

test("a definitions import through the management API of a follower reaches every node; an export from any node lists it", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  const request = requester(testContext(follower.broker));
  const definitions = {
    vhosts: [{ name: "imported" }],
    permissions: [{ user: "guest", vhost: "imported", configure: ".*", write: ".*", read: ".*" }],
    queues: [
      { name: "invoices", vhost: "imported", durable: true, auto_delete: false, arguments: {} },
    ],
    exchanges: [
      {
        name: "billing",
        vhost: "imported",
        type: "fanout",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
    ],
    bindings: [
      {
        source: "billing",
        vhost: "imported",
        destination: "invoices",
        destination_type: "queue",
        routing_key: "",
        arguments: {},
      },
    ],
    policies: [
      {
        vhost: "imported",
        name: "cap",
        pattern: "^inv",
        "apply-to": "queues",
        priority: 0,
        definition: { "max-length": 100 },
      },
    ],
  };
  const imported = await request("POST", "/api/definitions", definitions);
  assert.ok(imported.status < 300, JSON.stringify(imported.body));
  await c.converged();
  for (const n of c.nodes.values()) {
    const exported = (await requester(testContext(n.broker))("GET", "/api/definitions"))
      .body as Record<string, { name?: string; source?: string }[]>;
    assert.ok(
      exported.queues.some((q) => q.name === "invoices"),
      `${n.id} exports the queue`,
    );
    assert.ok(
      exported.exchanges.some((e) => e.name === "billing"),
      `${n.id}: the exchange`,
    );
    assert.ok(
      exported.bindings.some((b) => b.source === "billing"),
      `${n.id}: the binding`,
    );
    assert.ok(
      exported.policies.some((p) => p.name === "cap"),
      `${n.id}: the policy`,
    );
    const queue = n.broker.vhosts.get("imported")!.queues.get("invoices")!;
    assert.equal(queue.settings.maxLength, 100, `${n.id}: the policy applies to the queue`);
  }
  assertSameEverywhere(c);
});

test("the leader crashes (its unsynced writes lost) in the middle of 1,000 declares and restarts from its file log: each declare that resolved is on every node, once", async (t) => {
  const c = await cluster({ store: "file", timeoutMs: 2000, snapshotEveryEntries: 256 });
  const total = 1000;
  const resolved: string[] = [];
  const created = new Map<string, number>();
  const refusals: string[] = [];
  let next = 0;
  let crashed: string | undefined;
  let restarting: Promise<unknown> | undefined;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      if (i === 300) {
        crashed = c.leader()!.id;
        const id = crashed;
        restarting = c
          .crash(id)
          .then(() => new Promise((resolve) => setTimeout(resolve, 500)))
          .then(() => c.restart(id));
      }
      const name = `q${i}`;
      const node = c.node(c.ids[i % c.ids.length]);
      try {
        const applied = await node.broker.submit(durableQueue(name));
        resolved.push(name);
        if (applied.result.created) created.set(name, (created.get(name) ?? 0) + 1);
      } catch (e) {
        assert.ok(e instanceof MetadataUnavailableError, String(e));
        refusals.push(e.reason);
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  await restarting;
  await c.waitForLeader();
  await c.converged(10_000);
  assert.ok(crashed !== undefined);
  assert.ok(resolved.length >= 600, `only ${resolved.length} of ${total} resolved`);
  for (const n of c.nodes.values()) {
    const queues = n.broker.metadata.vhosts.get("/")!.queues;
    assert.deepEqual(
      resolved.filter((name) => !queues.has(name)),
      [],
      `${n.id} lacks declares that resolved`,
    );
  }
  assert.deepEqual(
    [...created].filter(([, count]) => count > 1),
    [],
    "no declare created its queue twice",
  );
  assertSameEverywhere(c);
  t.diagnostic(
    `${resolved.length} resolved, ${refusals.length} refused (${[...new Set(refusals)]}), leader ${crashed} crashed and came back`,
  );
});

test("an x-expires queue in use on its home is not expired by the other nodes' idle copies; once unused it expires once, everywhere", async () => {
  const c = await cluster();
  const home = followerOf(c);
  const client = openClient(home.broker);
  const pumpUntil = (name: string) =>
    waitFor(
      () => {
        client.pump();
        return client.names().includes(name);
      },
      5000,
      name,
    );
  client.declareQueue(1, "lease", {
    arguments: new Map([["x-expires", { type: "I", value: 300 }]]),
  });
  await pumpUntil("queue.declare-ok");
  client.method(1, {
    name: "basic.consume",
    queue: "lease",
    consumerTag: "t",
    noLocal: false,
    noAck: true,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
  await pumpUntil("basic.consume-ok");
  await c.converged();
  const tickAll = () => {
    for (const n of c.nodes.values()) n.broker.tick(Date.now());
  };
  const everywhere = () =>
    [...c.nodes.values()].every((n) => n.broker.metadata.vhosts.get("/")!.queues.has("lease"));
  // Well past x-expires: the consumer on the home keeps it.
  const until = Date.now() + 900;
  while (Date.now() < until) {
    tickAll();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await c.converged();
  assert.ok(everywhere(), "the queue in use on its home is still on every node");
  const expiredBefore = [...c.nodes.values()].map((n) => n.broker.counters.queuesExpired);
  client.method(1, { name: "basic.cancel", consumerTag: "t", noWait: false });
  await pumpUntil("basic.cancel-ok");
  await waitFor(
    () => {
      tickAll();
      return [...c.nodes.values()].every(
        (n) => !n.broker.metadata.vhosts.get("/")!.queues.has("lease"),
      );
    },
    5000,
    "the unused queue expired everywhere",
  );
  const expired = [...c.nodes.values()].map(
    (n, i) => n.broker.counters.queuesExpired - expiredBefore[i],
  );
  assert.deepEqual(expired.sort(), [0, 0, 1], "its home alone expired it, once");
  assertSameEverywhere(c);
});
