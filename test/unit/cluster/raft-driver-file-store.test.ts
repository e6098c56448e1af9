/**
 * The driver over the real file store: its syncs are FileRaftLogStore group commits (writev
 * and fdatasync), and what the driver committed is there after the store is reopened.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ProposalOutcome } from "../../../src/cluster/index.js";
import { logWriterOf, RaftDriver } from "../../../src/cluster/index.js";
import { FileRaftLogStore } from "../../../src/store/file-raft-log-store.js";
import { ListStateMachine, ManualClock } from "./driver-cluster.js";

const membership = { voters: ["a"], learners: [] };

async function drive(store: FileRaftLogStore) {
  const clock = new ManualClock();
  const driver = new RaftDriver({
    nodeId: "a",
    log: logWriterOf(store),
    transport: { send: () => {}, onReceive: () => {} },
    ticks: clock,
    raftOptions: { electionTicks: 2, heartbeatTicks: 1, random: () => 0 },
  });
  const stateMachine = new ListStateMachine();
  const group = driver.addGroup<number>("meta", {
    persisted: store.load("meta")!,
    stateMachine,
    snapshotEveryEntries: 3,
  });
  driver.start();
  return { driver, clock, stateMachine, group };
}

/** Waits (boundedly) for the store's fdatasyncs and the batches behind them. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

test("a group on a FileRaftLogStore commits through fdatasync and has the same state after reopening", async () => {
  const directory = await mkdtemp(join(tmpdir(), "warren-raft-driver-"));
  try {
    let store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 4096 });
    store.createGroup("meta", membership);
    await store.sync();
    const first = await drive(store);
    first.clock.tick();
    first.clock.tick();
    await until(() => first.driver.machine("meta")!.status().role === "leader");
    const outcomes: ProposalOutcome<number>[] = [];
    for (let i = 0; i < 5; i++)
      outcomes.push(await first.group.submit(new TextEncoder().encode(`c${i}`)));
    assert.deepEqual(
      outcomes.map((o) => o.status === "applied" && o.result),
      [1, 2, 3, 4, 5],
    );
    assert.ok(first.driver.stats().syncs >= 5, "every committing batch waited for an fdatasync");
    assert.ok(first.driver.machine("meta")!.status().snapshotIndex >= 3, "compacted");
    first.driver.stop();
    await store.close();

    store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 4096 });
    const second = await drive(store);
    second.clock.tick();
    second.clock.tick();
    await until(() => second.stateMachine.commands.length === 5);
    assert.deepEqual(second.stateMachine.commands, ["c0", "c1", "c2", "c3", "c4"]);
    second.driver.stop();
    await store.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
