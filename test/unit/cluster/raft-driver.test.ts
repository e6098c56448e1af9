import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DriverBatch, ProposalOutcome, RaftLogWriter } from "../../../src/cluster/index.js";
import { RaftDriver } from "../../../src/cluster/index.js";
import type { GroupMessage } from "../../../src/raft/index.js";
import { initialPersistedState } from "../../../src/raft/index.js";
import { DriverCluster, ListStateMachine, ManualClock } from "./driver-cluster.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** The classic mistake, as a subclass: messages leave before the batch is durable. */
class SendsBeforePersisting extends RaftDriver {
  protected override carryOut(batch: DriverBatch): void {
    this.write(batch);
    this.send(batch);
    this.whenDurable(batch, () => this.finish(batch));
  }
}

describe("RaftDriver in a three-node cluster", () => {
  test("elects one leader, and a proposal is applied on every node with its result returned to the proposer", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const leader = await cluster.electLeader();
    const first = await cluster.propose(leader.id, "x=1");
    const second = await cluster.propose(leader.id, "y=2");
    assert.equal(first.status, "applied");
    assert.equal(second.status, "applied");
    assert.equal(second.status === "applied" && second.result, 2, "the state machine's result");
    await cluster.tickAll(3);
    for (const node of cluster.nodes.values()) {
      assert.deepEqual(node.machines.get("g")!.commands, ["x=1", "y=2"], node.id);
    }
    assert.deepEqual(cluster.earlySends, []);
  });

  test("a proposal to a follower is refused at once with the leader's id", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const leader = await cluster.electLeader();
    const follower = [...cluster.nodes.values()].find((node) => node !== leader)!;
    let outcome: ProposalOutcome | undefined;
    const receipt = follower.driver.propose("g", bytes("x"), (o) => {
      outcome = o;
    });
    assert.equal(receipt.ok, false);
    assert.deepEqual(outcome, {
      status: "refused",
      reason: "notLeader",
      leaderId: leader.id,
      detail: undefined,
    });
  });

  test("a follower that crashes and restarts from its log store catches up to the same state", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const leader = await cluster.electLeader();
    await cluster.propose(leader.id, "before");
    const follower = [...cluster.nodes.values()].find((node) => node !== leader)!;
    cluster.crash(follower.id);
    for (let i = 0; i < 5; i++) {
      const outcome = await cluster.propose(leader.id, `while-down-${i}`);
      assert.equal(outcome.status, "applied", "two of three nodes are a majority");
    }
    cluster.restart(follower.id);
    const restarted = cluster.node(follower.id);
    assert.deepEqual(
      restarted.machines.get("g")!.commands,
      [],
      "a restarted state machine starts from the stored snapshot (none yet)",
    );
    await cluster.propose(leader.id, "after");
    await cluster.tickAll(3);
    const expected = ["before", ...[0, 1, 2, 3, 4].map((i) => `while-down-${i}`), "after"];
    assert.deepEqual(restarted.machines.get("g")!.commands, expected);
    assert.deepEqual(cluster.node(leader.id).machines.get("g")!.commands, expected);
    assert.deepEqual(cluster.earlySends, []);
  });

  test("a leader cut off before its proposal commits is told the proposal was lost once another entry takes its index", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const old = await cluster.electLeader();
    await cluster.propose(old.id, "committed");
    cluster.isolate(old.id);
    let outcome: ProposalOutcome | undefined;
    const receipt = old.driver.propose("g", bytes("stranded"), (o) => {
      outcome = o;
    });
    assert.equal(receipt.ok, true, "the old leader still believes it leads");
    // The other two elect a leader of a later term and commit their own entry at that index.
    const others = [...cluster.nodes.values()].filter((node) => node !== old);
    let next = others.find((node) => node.driver.machine("g")!.status().role === "leader");
    for (let round = 0; round < 100 && next === undefined; round++) {
      await cluster.tickAll(1);
      next = others.find((node) => node.driver.machine("g")!.status().role === "leader");
    }
    assert.ok(next, "the majority side elects a leader");
    assert.equal((await cluster.propose(next.id, "replacement")).status, "applied");
    assert.equal(outcome, undefined, "still pending while the old leader is cut off");
    cluster.heal();
    await cluster.tickAll(10);
    assert.ok(outcome !== undefined && receipt.ok);
    assert.deepEqual(outcome, {
      status: "lost",
      reason: "lostLeadership",
      index: receipt.index,
      term: receipt.term,
    });
    assert.deepEqual(old.machines.get("g")!.commands, ["committed", "replacement"]);
  });

  test("a proposal whose leader is deposed is still reported applied when the next leader commits it", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const old = await cluster.electLeader();
    await cluster.propose(old.id, "first");
    const [heir, other] = [...cluster.nodes.values()].filter((node) => node !== old);
    // The heir receives the entry but its acknowledgement never arrives; the third node
    // hears nothing: the old leader cannot commit.
    cluster.cutOneWay(heir.id, old.id);
    cluster.cutOneWay(old.id, other.id);
    cluster.cutOneWay(other.id, old.id);
    const outcomes: ProposalOutcome[] = [];
    const receipt = old.driver.propose("g", bytes("carried over"), (o) => outcomes.push(o));
    await cluster.settle();
    assert.equal(outcomes.length, 0);
    cluster.isolate(old.id);
    for (let round = 0; round < 100; round++) {
      if (heir.driver.machine("g")!.status().role === "leader") break;
      await cluster.tickAll(1);
    }
    assert.equal(heir.driver.machine("g")!.status().role, "leader", "the longer log wins");
    await cluster.tickAll(2);
    assert.equal(outcomes.length, 0, "the old leader does not know yet");
    cluster.heal();
    await cluster.tickAll(10);
    assert.ok(receipt.ok);
    assert.deepEqual(outcomes, [
      { status: "applied", index: receipt.index, term: receipt.term, result: 2 },
    ]);
    assert.notEqual(old.driver.machine("g")!.status().role, "leader");
  });

  test("a follower far behind gets the leader's snapshot and reaches the same state", async () => {
    const cluster = new DriverCluster(["a", "b", "c"], { snapshotEveryEntries: 4 });
    const leader = await cluster.electLeader();
    const follower = [...cluster.nodes.values()].find((node) => node !== leader)!;
    cluster.isolate(follower.id);
    const commands = Array.from({ length: 12 }, (_, i) => `c${i}`);
    for (const command of commands) await cluster.propose(leader.id, command);
    const status = leader.driver.machine("g")!.status();
    assert.ok(
      status.snapshotIndex >= 8,
      `the leader compacted (snapshot at ${status.snapshotIndex})`,
    );
    cluster.heal();
    await cluster.tickAll(10);
    assert.deepEqual(follower.machines.get("g")!.commands, commands);
    assert.ok(follower.driver.machine("g")!.status().snapshotIndex >= 8, "installed a snapshot");
  });
});

describe("RaftDriver ordering: persist before send", () => {
  test("no message leaves a node before the state it reports is durable", async () => {
    const cluster = new DriverCluster(["a", "b", "c"], { groups: ["meta", "q1"] });
    const leader = await cluster.electLeader("meta");
    for (let i = 0; i < 5; i++) {
      await cluster.propose(leader.id, `m${i}`, "meta");
      await cluster.propose(leader.id, `q${i}`, "q1");
    }
    const follower = [...cluster.nodes.values()].find((node) => node !== leader)!;
    cluster.crash(follower.id);
    await cluster.propose(leader.id, "while-down", "meta");
    cluster.restart(follower.id);
    await cluster.tickAll(5);
    assert.deepEqual(cluster.earlySends, []);
    // The check looked at every kind of message that reports durable state.
    for (const type of ["vote", "voteResponse", "append", "appendResponse"]) {
      assert.ok((cluster.checkedSends.get(type) ?? 0) > 0, `${type} messages were checked`);
    }
  });

  test("a driver that sends before its batch is durable is caught by the same check", async () => {
    const cluster = new DriverCluster(["a", "b", "c"], {
      createDriver: (config) => new SendsBeforePersisting(config),
    });
    const leader = await cluster.electLeader();
    await cluster.propose(leader.id, "x");
    assert.ok(cluster.earlySends.length > 0, "the planted ordering bug is visible");
  });

  test("one sync makes every group's part of a batch durable before its messages leave", async () => {
    const disk: string[] = [];
    const sent: string[] = [];
    let release: (() => void) | null = null;
    const log: RaftLogWriter = {
      write: (groupId) => disk.push(`write ${groupId}`),
      sync: (done) => {
        disk.push("sync");
        release = () => done(null);
      },
    };
    const driver = new RaftDriver({
      nodeId: "a",
      log,
      transport: {
        send: (to, messages) => sent.push(...messages.map((m) => `${m.groupId}>${to}`)),
        onReceive: () => {},
      },
      ticks: new ManualClock(),
      raftOptions: { electionTicks: 2, heartbeatTicks: 1, preVote: false, random: () => 0 },
    });
    const membership = { voters: ["a", "b", "c"], learners: [] };
    for (const groupId of ["meta", "q1", "q2"]) {
      driver.addGroup(groupId, {
        persisted: initialPersistedState(membership),
        stateMachine: new ListStateMachine(),
      });
    }
    driver.tick();
    driver.tick();
    // Every group campaigned (a new term and a vote for itself): three writes, one sync.
    const oneBatch = ["write meta", "write q1", "write q2", "sync"];
    assert.deepEqual(disk, oneBatch);
    assert.deepEqual(sent, [], "nothing leaves before the sync completes");
    driver.tick();
    assert.deepEqual(disk, oneBatch, "no second batch while one is out");
    release!();
    assert.deepEqual(sent.sort(), ["meta>b", "meta>c", "q1>b", "q1>c", "q2>b", "q2>c"]);
    assert.equal(driver.stats().syncs, 1);
  });

  test("a failed sync stops the driver: nothing of the batch is sent, waiting proposals are unknown, new ones refused", async () => {
    const sent: GroupMessage[] = [];
    let fail: ((error: Error) => void) | null = null;
    const failures: Error[] = [];
    const driver = new RaftDriver({
      nodeId: "a",
      log: { write: () => {}, sync: (done) => (fail = (error) => done(error)) },
      transport: { send: (_to, messages) => sent.push(...messages), onReceive: () => {} },
      ticks: new ManualClock(),
      // A single voter elects itself at once; its first entries are then waiting for a sync.
      raftOptions: { electionTicks: 2, heartbeatTicks: 1, random: () => 0 },
      observer: { logFailed: (error) => failures.push(error) },
    });
    driver.addGroup("g", {
      persisted: initialPersistedState({ voters: ["a"], learners: [] }),
      stateMachine: new ListStateMachine(),
    });
    driver.tick();
    driver.tick();
    assert.equal(driver.machine("g")!.status().role, "leader");
    const outcomes: ProposalOutcome[] = [];
    driver.propose("g", bytes("x"), (o) => outcomes.push(o));
    fail!(Object.assign(new Error("fdatasync: EIO"), { code: "EIO" }));
    assert.equal(failures.length, 1);
    assert.equal(driver.failed()?.message, "fdatasync: EIO");
    assert.deepEqual(sent, []);
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0].status, "unknown");
    assert.equal(outcomes[0].status === "unknown" && outcomes[0].reason, "logFailed");
    driver.propose("g", bytes("y"), (o) => outcomes.push(o));
    assert.equal(outcomes[1].status === "refused" && outcomes[1].reason, "logFailed");
  });
});

describe("RaftDriver groups", () => {
  test("removing a group tells its waiting proposals their fate is unknown and drops its later messages", async () => {
    const cluster = new DriverCluster(["a", "b", "c"]);
    const leader = await cluster.electLeader();
    cluster.isolate(leader.id);
    const outcomes: ProposalOutcome[] = [];
    leader.driver.propose("g", bytes("x"), (o) => outcomes.push(o));
    assert.equal(outcomes.length, 0, "cut off: no majority to commit it");
    assert.equal(leader.driver.removeGroup("g"), true);
    assert.equal(outcomes[0]?.status === "unknown" && outcomes[0].reason, "groupRemoved");
    leader.driver.receive([
      {
        groupId: "g",
        message: { type: "heartbeat", from: "b", to: leader.id, term: 9, commitIndex: 0 },
      },
    ]);
    assert.equal(leader.driver.stats().messagesForUnknownGroups, 1);
    const refusals: ProposalOutcome[] = [];
    leader.driver.propose("g", bytes("y"), (o) => refusals.push(o));
    assert.equal(refusals[0]?.status === "refused" && refusals[0].reason, "noSuchGroup");
  });

  test("a typed group handle resolves submit with the state machine's result", async () => {
    const cluster = new DriverCluster(["a"]);
    const leader = await cluster.electLeader();
    const handle = leader.driver.group<number>("g")!;
    const pending = handle.submit(bytes("only"));
    await cluster.tickAll(1);
    const outcome = await pending;
    assert.equal(outcome.status, "applied");
    assert.equal(outcome.status === "applied" && outcome.result, 1);
    assert.equal(handle.status()?.role, "leader");
  });
});
