import assert from "node:assert/strict";
import { after, test } from "node:test";
import { MetadataUnavailableError } from "../../../../src/cluster/metadata/index.js";
import { silentLog } from "../../../../src/log.js";
import { AmqpError } from "../../../../src/protocol/amqp-error.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import type {
  MetadataCommand,
  QueueDeclare,
} from "../../../../src/vhost/commands/command-types.js";
import { digest } from "../../../support/metadata-commands.js";
import { assertLiveMirrorsState } from "./live-topology.js";
import { MetadataCluster, type MetaNode } from "./metadata-cluster.js";

const clusters: MetadataCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

async function cluster(options: Parameters<typeof MetadataCluster.start>[1] = {}) {
  const c = await MetadataCluster.start(["a", "b", "c"], options);
  clusters.push(c);
  await c.waitForLeader();
  await c.bootstrap();
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
  // The replies did not wait for a definitions.json save: the commit is the durable record.
  assert.equal(follower.broker.definitionsSaved(), undefined);
});

test("a declaration the definitions refuse (406) is refused on a follower with the single node's error, and changes nothing", async () => {
  const c = await cluster();
  const follower = followerOf(c);
  await c.leader()!.broker.submit(durableQueue("q"));
  await c.converged();
  const inequivalent: QueueDeclare = { ...durableQueue("q"), durable: false };
  const single = new Broker(DEFAULT_SETTINGS, silentLog);
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
  await assert.rejects(follower.broker.submit(inequivalent) as Promise<unknown>, (e: unknown) => {
    assert.ok(e instanceof AmqpError);
    assert.equal(e.replyCode, expected.replyCode);
    assert.equal(e.replyText, expected.replyText);
    assert.equal(e.scope, expected.scope);
    return true;
  });
  await c.converged();
  assert.equal(JSON.stringify(digest(follower.broker.metadata)), before);
  assertSameEverywhere(c);
});
