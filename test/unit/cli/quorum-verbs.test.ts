import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LIST_VERBS } from "../../../src/cli/ctl/list-verbs.js";
import { checkIfNodeIsQuorumCritical } from "../../../src/cli/ctl/quorum-critical.js";
import {
  addMember,
  deleteMember,
  grow,
  quorumStatus,
  rebalance,
  shrink,
} from "../../../src/cli/ctl/quorum-verbs.js";
import { VERBS } from "../../../src/cli/warrenctl.js";
import type { QuorumQueueStatus } from "../../../src/quorum/quorum-admin.js";
import { allUp, runVerb, SELF, source } from "../../support/fake-cluster.js";
import { memoryBroker, testContext } from "../../support/mgmt-context.js";
import {
  B,
  C,
  declareQueues,
  FakeQuorumAdmin,
  healthy,
  withOffline,
} from "../mgmt/fake-quorum-admin.js";

// warrenctl's rabbitmq-queues verbs through the real management API in process, over a fake
// QuorumAdmin (test/unit/mgmt/fake-quorum-admin.ts) in a three-node cluster: what each prints,
// what it asked the runtime, and its exit code.

function setup(statuses: QuorumQueueStatus[] = [healthy("orders"), healthy("events", B)]) {
  const broker = memoryBroker();
  declareQueues(broker, statuses);
  const quorum = new FakeQuorumAdmin(statuses);
  const ctx = { ...testContext(broker), cluster: source(allUp()), quorum };
  return { broker, quorum, ctx };
}

describe("quorum_status", () => {
  test("one row per member, in RabbitMQ 4's columns, as a pretty table", async () => {
    const { ctx } = setup();
    const r = await runVerb(quorumStatus, ctx, ["orders"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], `Status of queue orders on node ${SELF} ...`);
    assert.match(lines[1]!, /^┌─+┬/);
    assert.equal(
      lines[2]!
        .split("│")
        .map((c) => c.trim())
        .filter(Boolean)
        .join("|"),
      "Node Name|Raft State|Membership|Last Log Index|Last Written|Last Applied|Commit Index|Snapshot Index|Term|Machine Version",
    );
    const rows = lines.slice(4, 7).map((l) =>
      l
        .split("│")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
    // This node's own replica has its figures; the others' are not known here.
    assert.deepEqual(rows[0], [B, "follower", "voter", "", "", "", "", "", "", "1"]);
    assert.deepEqual(rows[1], [C, "follower", "voter", "", "", "", "", "", "", "1"]);
    assert.deepEqual(rows[2], [
      SELF,
      "leader",
      "voter",
      "121",
      "121",
      "120",
      "120",
      "100",
      "3",
      "1",
    ]);
    assert.match(lines[7]!, /^└─+┴/);
  });

  test("a member's own figures when the runtime has them; an offline member says so", async () => {
    const q = withOffline(healthy("orders"), [C]);
    const details = q.memberDetails.map((m) =>
      m.node === B
        ? {
            ...m,
            raft: {
              term: 3,
              commitIndex: 118,
              appliedIndex: 118,
              snapshotIndex: 100,
              lastIndex: 119,
            },
          }
        : m,
    );
    const { ctx } = setup([{ ...q, memberDetails: details }]);
    const r = await runVerb(quorumStatus, ctx, ["orders", "--formatter", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(rows[0]!["Node Name"], B);
    assert.equal(rows[0]!["Commit Index"], 118);
    assert.equal(rows[0]!["Last Log Index"], 119);
    assert.deepEqual(
      [rows[1]!["Node Name"], rows[1]!["Raft State"], rows[1]!.Term],
      [C, "noconnection", null],
    );
  });

  test("a classic queue is refused, an unknown one is not found, with --vhost", async () => {
    const { ctx, broker } = setup();
    declareQueues(broker, [{ ...healthy("plain"), vhost: "/" }]);
    const classic = await runVerb(quorumStatus, ctx, ["plain"]);
    assert.equal(classic.code, 70);
    assert.match(classic.stderr, /classic_queue_not_supported: queue 'plain' in vhost '\/'/);
    const missing = await runVerb(quorumStatus, ctx, ["nope", "--vhost", "/"]);
    assert.equal(missing.code, 70);
    assert.match(missing.stderr, /not found/);
  });
});

describe("add_member and delete_member", () => {
  test("add_member prints RabbitMQ's banner and asks the runtime", async () => {
    const { ctx, quorum } = setup();
    const r = await runVerb(addMember, ctx, ["orders", "warren@d"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Adding a member for queue orders on node warren@d...\n");
    assert.deepEqual(quorum.calls, ["addMember / orders warren@d"]);
    assert.deepEqual(quorum.status("/", "orders")!.members, [SELF, B, C, "warren@d"]);
  });

  test("a refusal is an error with the runtime's reason, exit 70", async () => {
    const { ctx } = setup();
    const r = await runVerb(addMember, ctx, ["orders", "warren@gone"]);
    assert.equal(r.code, 70);
    assert.equal(r.stderr, "Error: node_not_running\n");
  });

  test("delete_member prints its banner; the last member cannot go", async () => {
    const { ctx, quorum } = setup([{ ...healthy("solo"), members: [SELF] }]);
    const r = await runVerb(deleteMember, ctx, ["solo", SELF]);
    assert.equal(r.code, 70);
    assert.equal(r.stdout, `Removing a replica of queue solo on node ${SELF}...\n`);
    assert.equal(r.stderr, "Error: the last node cannot be removed\n");
    quorum.set(healthy("solo"));
    const ok = await runVerb(deleteMember, ctx, ["solo", C, "--quiet"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "");
    assert.deepEqual(quorum.status("/", "solo")!.members, [SELF, B]);
  });

  test("two arguments exactly", async () => {
    const { ctx } = setup();
    const r = await runVerb(addMember, ctx, ["orders"]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /Usage: warrenctl add_member \[--vhost <vhost>\] <queue> <node>/);
  });
});

describe("grow and shrink", () => {
  test("grow onto a running member: one line per queue, vhost name size result", async () => {
    const two = (name: string) => ({ ...healthy(name), members: [SELF, B], online: [SELF, B] });
    const { ctx, quorum } = setup([two("a1"), two("a2"), healthy("full")]);
    const r = await runVerb(grow, ctx, [C, "all", "--queue-pattern", "^a"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `Growing all quorum queues on ${C}...\nvhost\tname\tsize\tresult\n/\ta1\t3\tok\n/\ta2\t3\tok\n`,
    );
    assert.deepEqual(quorum.calls.slice(0, 1), [`grow ${C} all .* ^a`]);
  });

  test("grow refuses an unknown strategy and a node that is not a running member", async () => {
    const { ctx } = setup();
    const bad = await runVerb(grow, ctx, [C, "most"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /strategy 'most' is not recognised/);
    const away = await runVerb(grow, ctx, ["warren@nowhere", "all"]);
    assert.equal(away.code, 64);
    assert.match(away.stderr, /warren@nowhere is not a running member/);
  });

  test("shrink: every queue with a replica there; --errors-only keeps the failures", async () => {
    const { ctx } = setup([healthy("orders"), { ...healthy("solo", C), members: [C] }]);
    const r = await runVerb(shrink, ctx, [C]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `Shrinking quorum queues on ${C}...\nvhost\tname\tsize\tresult\n` +
        "/\torders\t2\tok\n/\tsolo\t1\terror: the last node cannot be removed\n",
    );
    const errors = await runVerb(shrink, ctx, [B, "--errors-only", "--formatter", "json"]);
    assert.deepEqual(JSON.parse(errors.stdout), []);
  });
});

describe("rebalance", () => {
  test("quorum: moves leaders, then the leaders per node as a pretty table", async () => {
    const { ctx, quorum } = setup([healthy("q1"), healthy("q2"), healthy("q3")]);
    const r = await runVerb(rebalance, ctx, ["quorum"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(quorum.calls, ["rebalance .* .*"]);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], "Re-balancing leaders of quorum queues...");
    assert.match(lines[2]!, /│ Node name +│ Number of quorum queues │/);
    assert.match(lines[4]!, new RegExp(`│ ${B} +│ 1 +│`));
    assert.match(lines[6]!, new RegExp(`│ ${SELF} │ 1 +│`));
  });

  test("an unknown type is refused as rabbitmq-queues does", async () => {
    const { ctx } = setup();
    const r = await runVerb(rebalance, ctx, ["streams"]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /type streams is not supported\. Try one of all, classic, quorum\./);
  });
});

const listQueues = LIST_VERBS.find((v) => v.name === "list_queues")!;

describe("list_queues", () => {
  test("type, leader, members, online: a quorum queue's group, a classic queue's node", async () => {
    const { ctx, broker } = setup([withOffline(healthy("orders"), [C])]);
    declareQueues(broker, [{ ...healthy("plain") }]);
    const r = await runVerb(listQueues, ctx, ["name", "leader", "members", "online", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "name\tleader\tmembers\tonline\n" +
        `orders\t${SELF}\t[${SELF}, ${B}, ${C}]\t[${SELF}, ${B}]\n` +
        `plain\t${SELF}\t[${SELF}]\t[${SELF}]\n`,
    );
  });
});

describe("check_if_node_is_quorum_critical", () => {
  test("a quorum queue that would lose its majority fails the check, exit 69", async () => {
    const { ctx } = setup([withOffline(healthy("orders"), [C]), healthy("events", B)]);
    const r = await runVerb(checkIfNodeIsQuorumCritical, ctx);
    assert.equal(r.code, 69);
    assert.equal(
      r.stdout,
      `Checking if node ${SELF} is critical for quorum of any quorum queues ...\n`,
    );
    assert.equal(
      r.stderr,
      `queue 'orders' in vhost '/' would lose quorum if node ${SELF} is stopped\n`,
    );
  });

  test("all members online: the check passes", async () => {
    const { ctx } = setup();
    const r = await runVerb(checkIfNodeIsQuorumCritical, ctx);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reported no quorum queues with minimum quorum/);
  });
});

test("warrenctl knows rabbitmq-queues' verbs by their names", () => {
  for (const name of [
    "quorum_status",
    "add_member",
    "delete_member",
    "grow",
    "shrink",
    "rebalance",
    "check_if_node_is_quorum_critical",
  ]) {
    assert.ok(VERBS.has(name), name);
  }
});
