import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { HttpListener } from "../../../src/mgmt/http/http-listener.js";
import { managementDispatch, managementRouter } from "../../../src/mgmt/mgmt-service.js";
import { oneUnreachable, source } from "../../support/fake-cluster.js";
import { shell, warrenctl } from "../../support/mgmt-broker.js";
import { memoryBroker, testContext } from "../../support/mgmt-context.js";

// The real warrenctl process against a real HTTP listener on a free port, whose node context
// carries a fake ClusterView with warren@c unreachable: the seed's pipeline
// (cluster_status | grep -A2 'Network Partitions'), the JSON a script reads, and the exit
// status a rolling-restart script waits on.

let listener: HttpListener;
let url: string;

before(async () => {
  const ctx = { ...testContext(memoryBroker()), cluster: source(oneUnreachable()) };
  listener = new HttpListener("http", managementDispatch(ctx, managementRouter(ctx)), silentLog);
  await listener.listen([{ host: "127.0.0.1", port: 0 }]);
  url = `http://127.0.0.1:${listener.bound[0]!.port}`;
});

after(async () => {
  await listener.close();
});

describe("warrenctl against a node in a cluster", () => {
  test("the seed's grep for Network Partitions finds the pair", async () => {
    const r = await shell(url, "$WARRENCTL cluster_status | grep -A2 'Network Partitions'");
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(
      r.stdout,
      "Network Partitions\n\nwarren@localhost cannot communicate with warren@c\n",
    );
  });

  test("cluster_status --formatter json names the running nodes and the partition", async () => {
    const r = await warrenctl(url, ["cluster_status", "--formatter", "json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual(body.running_nodes, ["warren@b", "warren@localhost"]);
    assert.deepEqual(body.partitions, { "warren@localhost": ["warren@c"] });
  });

  test("check_if_node_is_quorum_critical exits 69 with RabbitMQ's line on stderr", async () => {
    const r = await warrenctl(url, ["check_if_node_is_quorum_critical"]);
    assert.equal(r.exitCode, 69);
    assert.match(r.stdout, /^Checking if node warren@localhost is critical for quorum/);
    assert.equal(
      r.stderr,
      "rabbitmq_metadata would lose quorum if node warren@localhost is stopped\n",
    );
  });
});
