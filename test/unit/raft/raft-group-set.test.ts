import assert from "node:assert/strict";
import { test } from "node:test";
import type { GroupMessage } from "../../../src/raft/index.js";
import {
  initialPersistedState,
  RaftGroupSet,
  RaftMachine,
  raftOptions,
} from "../../../src/raft/index.js";

const membership = { voters: ["a", "b"], learners: [] };

function node(id: string): RaftGroupSet {
  const set = new RaftGroupSet();
  for (const groupId of ["meta", "q1", "q2"]) {
    const options = raftOptions({ id, electionTicks: 10, random: () => (id === "a" ? 0 : 0.5) });
    set.add(groupId, new RaftMachine(options, initialPersistedState(membership)));
  }
  return set;
}

/** Runs both nodes' batches and delivers their messages until nothing moves. */
function settle(nodes: Map<string, RaftGroupSet>): number {
  let batches = 0;
  for (let round = 0; round < 100; round++) {
    const mail: GroupMessage[] = [];
    for (const set of nodes.values()) {
      if (!set.hasReady()) continue;
      const batch = set.ready();
      batches++;
      for (const messages of batch.outbound.values()) mail.push(...messages);
      set.advance(batch);
    }
    if (mail.length === 0) return batches;
    for (const message of mail) nodes.get(message.message.to)!.step(message);
  }
  throw new Error("did not settle");
}

test("a group set ticks all its groups and gathers their Readies into one batch per node", () => {
  const nodes = new Map([
    ["a", node("a")],
    ["b", node("b")],
  ]);
  for (let i = 0; i < 10; i++) nodes.get("a")!.tick();
  const batch = nodes.get("a")!.ready();
  assert.equal(batch.groups.length, 3, "every group campaigned in the same tick");
  assert.equal(batch.mustSync, false, "pre-votes change nothing durable, so need no fsync");
  assert.deepEqual([...batch.outbound.keys()], ["b"]);
  assert.deepEqual(
    batch.outbound.get("b")!.map((m) => m.groupId),
    ["meta", "q1", "q2"],
  );
  nodes.get("a")!.advance(batch);
  for (const message of batch.outbound.get("b")!) nodes.get("b")!.step(message);
  settle(nodes);
  for (const groupId of ["meta", "q1", "q2"]) {
    assert.equal(nodes.get("a")!.get(groupId)!.status().role, "leader", groupId);
  }
});

test("a group set ignores messages for groups it does not host", () => {
  const set = node("a");
  const stepped = set.step({
    groupId: "unknown",
    message: { type: "heartbeat", from: "b", to: "a", term: 1, commitIndex: 0 },
  });
  assert.equal(stepped, false);
  assert.equal(set.remove("q2"), true);
  assert.deepEqual(set.groupIds(), ["meta", "q1"]);
});
