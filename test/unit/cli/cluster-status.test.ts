import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clusterStatus } from "../../../src/cli/ctl/cluster-status.js";
import { checkIfNodeIsQuorumCritical } from "../../../src/cli/ctl/quorum-critical.js";
import type { ClusterView } from "../../../src/mgmt/cluster-view.js";
import {
  allUp,
  oneUnreachable,
  paused,
  runVerb,
  SELF,
  source,
} from "../../support/fake-cluster.js";
import { memoryBroker, testContext } from "../../support/mgmt-context.js";

// warrenctl cluster_status and check_if_node_is_quorum_critical over the management API in
// process, with a fake ClusterView: three nodes all up, one unreachable, this node paused;
// and a single node, whose output is what it always was.

function clustered(view: ClusterView) {
  return { ...testContext(memoryBroker()), cluster: source(view) };
}

const single = () => testContext(memoryBroker());

/** The lines of one pretty section, between its title and the next blank line. */
function section(out: string, title: string): string[] {
  const lines = out.split("\n");
  const at = lines.indexOf(title);
  assert.ok(at >= 0, `no section ${title} in:\n${out}`);
  const end = lines.indexOf("", at + 2);
  return lines.slice(at + 2, end < 0 ? undefined : end);
}

describe("cluster_status", () => {
  test("a single node prints exactly what it printed before the cluster", async () => {
    const r = await runVerb(clusterStatus, single());
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      [
        `Cluster status of node ${SELF} ...`,
        "Basics",
        "",
        `Cluster name: ${SELF}`,
        "",
        "Disk Nodes",
        "",
        SELF,
        "",
        "Running Nodes",
        "",
        SELF,
        "",
        "Versions",
        "",
        `${SELF}: Warren 0.1.0 (RabbitMQ 3.13.7 compatible) on Node.js ${process.version}`,
        "",
        "Alarms",
        "",
        "(none)",
        "",
        "Network Partitions",
        "",
        "(none)",
        "",
        "Listeners",
        "",
        `Node: ${SELF}, interface: 127.0.0.1, port: 5672, protocol: amqp, purpose: AMQP 0-9-1`,
        `Node: ${SELF}, interface: 127.0.0.1, port: 15672, protocol: http, purpose: HTTP API`,
        "",
      ].join("\n"),
    );
    const json = JSON.parse(
      (await runVerb(clusterStatus, single(), ["--formatter", "json"])).stdout,
    );
    assert.deepEqual(json.running_nodes, [SELF]);
    assert.deepEqual(json.partitions, {});
  });

  test("three nodes up: all disk and running, every version, no partitions", async () => {
    const r = await runVerb(clusterStatus, clustered(allUp()));
    assert.equal(r.code, 0);
    assert.deepEqual(section(r.stdout, "Disk Nodes"), ["warren@b", "warren@c", SELF]);
    assert.deepEqual(section(r.stdout, "Running Nodes"), ["warren@b", "warren@c", SELF]);
    assert.deepEqual(section(r.stdout, "Versions"), [
      "warren@b: Warren 0.1.0 on Node.js v20.11.0",
      "warren@c: Warren 0.1.0 on Node.js v20.11.0",
      `${SELF}: Warren 0.1.0 (RabbitMQ 3.13.7 compatible) on Node.js ${process.version}`,
    ]);
    assert.deepEqual(section(r.stdout, "Network Partitions"), ["(none)"]);
    assert.deepEqual(section(r.stdout, "Metadata Store"), [
      "Leader: warren@b, term 4",
      "This node: follower, commit index 120, applied index 120, last index 121",
      `Voters: ${SELF}, warren@b, warren@c`,
    ]);
  });

  test("one unreachable: not running, named with its address, the partition as the seed shows it", async () => {
    const r = await runVerb(clusterStatus, clustered(oneUnreachable()));
    assert.deepEqual(section(r.stdout, "Disk Nodes"), ["warren@b", "warren@c", SELF]);
    assert.deepEqual(section(r.stdout, "Running Nodes"), ["warren@b", SELF]);
    assert.deepEqual(section(r.stdout, "Network Partitions"), [
      `${SELF} cannot communicate with warren@c`,
    ]);
    assert.deepEqual(section(r.stdout, "Unreachable Nodes"), [
      "warren@c (127.0.0.1:25674) since 2026-12-07T11:55:00.000Z",
    ]);
    const json = JSON.parse(
      (await runVerb(clusterStatus, clustered(oneUnreachable()), ["--formatter", "json"])).stdout,
    );
    assert.deepEqual(json.disk_nodes, ["warren@b", "warren@c", SELF]);
    assert.deepEqual(json.running_nodes, ["warren@b", SELF]);
    assert.deepEqual(json.partitions, { [SELF]: ["warren@c"] });
    assert.deepEqual(Object.keys(json.versions).sort(), ["warren@b", "warren@c", SELF]);
  });

  test("this node paused: the reason shows under Basics and only itself runs", async () => {
    const r = await runVerb(clusterStatus, clustered(paused()));
    assert.match(
      r.stdout,
      /^Paused: node warren@localhost cannot see a majority of the cluster \(since 2026-12-07T11:59:05\.000Z\)$/m,
    );
    assert.deepEqual(section(r.stdout, "Running Nodes"), [SELF]);
    assert.deepEqual(section(r.stdout, "Network Partitions"), [
      `${SELF} cannot communicate with warren@b`,
      `${SELF} cannot communicate with warren@c`,
    ]);
    assert.deepEqual(section(r.stdout, "Metadata Store").slice(0, 1), [
      "Leader: (none known), term 5",
    ]);
  });

  test("the erlang formatter prints the classic term the seed documents grep", async () => {
    const r = await runVerb(clusterStatus, clustered(oneUnreachable()), ["--formatter", "erlang"]);
    const term = r.stdout.split("\n").slice(1).join("").replace(/\s+/g, "");
    assert.equal(
      term,
      "[{nodes,[{disc,[warren@b,warren@c,warren@localhost]}]}," +
        "{running_nodes,[warren@b,warren@localhost]}," +
        '{cluster_name,<<"warren@localhost">>},' +
        "{partitions,[{warren@localhost,[warren@c]}]}," +
        "{alarms,[{warren@b,[]},{warren@localhost,[]}]}]",
    );
  });
});

describe("check_if_node_is_quorum_critical", () => {
  test("a single node: the check does not apply, exit 0", async () => {
    const r = await runVerb(checkIfNodeIsQuorumCritical, single());
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /Node warren@localhost seems to be the only one in a single node cluster, the check does not apply/,
    );
  });

  test("takes no arguments: a usage error, exit 64", async () => {
    const r = await runVerb(checkIfNodeIsQuorumCritical, clustered(allUp()), ["warren@b"]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /Usage: warrenctl check_if_node_is_quorum_critical/);
  });

  test("all three up: not critical, exit 0", async () => {
    const r = await runVerb(checkIfNodeIsQuorumCritical, clustered(allUp()));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Node warren@localhost reported no quorum queues with minimum quorum/);
  });

  test("one down: the metadata store would lose its quorum, exit 69", async () => {
    const r = await runVerb(checkIfNodeIsQuorumCritical, clustered(oneUnreachable()));
    assert.equal(r.code, 69);
    assert.equal(
      r.stderr,
      "rabbitmq_metadata would lose quorum if node warren@localhost is stopped\n",
    );
    const json = await runVerb(checkIfNodeIsQuorumCritical, clustered(oneUnreachable()), [
      "--formatter",
      "json",
    ]);
    assert.equal(json.code, 69);
    const body = JSON.parse(json.stdout);
    assert.equal(body.result, "error");
    assert.equal(body.queues[0].name, "rabbitmq_metadata");
  });
});
