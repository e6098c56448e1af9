/**
 * In a cluster every node holds every queue's definition, but each queue lives on one node:
 * /metrics counts and lists only the queues that live on this node (as rabbitmq_prometheus
 * does), so a sum over the cluster's nodes counts each queue once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RemoteHomeNode } from "../../../src/cluster/queues/remote-home.js";
import { RemoteQueue } from "../../../src/cluster/queues/remote-queue.js";
import { metricsText } from "../../../src/mgmt/metrics/metrics-endpoint.js";
import { memoryBroker, testContext } from "../../support/mgmt-context.js";

function clusterBroker() {
  const broker = memoryBroker();
  const home = new RemoteHomeNode(
    "warren@b",
    {
      isConnected: () => true,
      sendFrame: () => true,
      request: () => new Promise(() => {}),
    },
    () => 1,
    () => 0,
  );
  broker.remoteQueues = (creation) => new RemoteQueue(creation, home);
  for (const [queue, home] of [
    ["lives-here", undefined],
    ["lives-on-b", "warren@b"],
  ] as const) {
    broker.submitNow({
      type: "queue.declare",
      vhost: "/",
      queue,
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      ...(home === undefined ? {} : { home }),
    });
  }
  return broker;
}

test("the stand-in of another node's queue is built, but /metrics leaves it to its home", () => {
  const broker = clusterBroker();
  assert.ok(broker.vhosts.get("/")!.queues.get("lives-on-b")!.remote, "a stand-in");
  assert.equal(broker.vhosts.get("/")!.queues.get("lives-here")!.remote, undefined);
  const ctx = testContext(broker);
  const perObject = metricsText(ctx, true);
  assert.match(perObject, /queue="lives-here"/);
  assert.doesNotMatch(perObject, /queue="lives-on-b"/);
  assert.match(metricsText(ctx, false), /^rabbitmq_queues 1$/m);
});
