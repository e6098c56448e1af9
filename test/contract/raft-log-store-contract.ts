/**
 * The contract every RaftLogStore keeps (DESIGN.md §4: one contract suite per storage
 * interface). The in-memory and the file-backed store both run it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { HardState, LogEntry, Membership, Snapshot } from "../../src/raft/index.js";
import { initialPersistedState } from "../../src/raft/index.js";
import type { RaftLogWrite } from "../../src/store/raft-log-image.js";
import { RaftLogImage } from "../../src/store/raft-log-image.js";
import type { RaftLogStore } from "../../src/store/raft-log-store.js";

export interface StoreHarness {
  /** Opens a store on this harness's storage; every call sees the same storage. */
  open(): Promise<RaftLogStore>;
  cleanup(): Promise<void>;
}

const founders: Membership = { voters: ["a", "b", "c"], learners: [] };
const bytes = (text: string) => new TextEncoder().encode(text);

function entry(index: number, term: number, text = `e${index}t${term}`): LogEntry {
  return { index, term, kind: "command", data: bytes(text) };
}

function snapshot(index: number, term: number, text: string): Snapshot {
  return { meta: { index, term, membership: founders }, data: bytes(text) };
}

function hardState(term: number, votedFor: string | null, commitIndex: number): HardState {
  return { term, votedFor, commitIndex };
}

export function raftLogStoreContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`RaftLogStore contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: RaftLogStore;

    /** Closes (or abandons, as a crash) the current store and opens a new one. */
    async function restart(crash = false): Promise<RaftLogStore> {
      if (crash) await store.abandon();
      else await store.close();
      store = await harness.open();
      return store;
    }

    before(async () => {
      harness = await makeHarness();
      store = await harness.open();
    });

    after(async () => {
      await store.close();
      await harness.cleanup();
    });

    test("a created group loads with its founding membership after a restart", async () => {
      store.createGroup("g-create", founders);
      await store.sync();
      await restart();
      assert.ok(store.groupIds().includes("g-create"));
      assert.deepEqual(store.load("g-create"), initialPersistedState(founders));
    });

    test("entries and the hard state survive a restart", async () => {
      store.createGroup("g-basic", founders);
      store.write("g-basic", [
        { type: "entries", entries: [entry(1, 1), entry(2, 1)] },
        { type: "hardState", hardState: hardState(1, "a", 1) },
      ]);
      await store.sync();
      await restart();
      const loaded = store.load("g-basic")!;
      assert.deepEqual(loaded.entries, [entry(1, 1), entry(2, 1)]);
      assert.deepEqual(loaded.hardState, hardState(1, "a", 1));
    });

    test("appending at an index replaces the stored entries from that index on", async () => {
      store.createGroup("g-truncate", founders);
      store.write("g-truncate", [
        { type: "entries", entries: [1, 2, 3, 4].map((i) => entry(i, 1)) },
      ]);
      await store.sync();
      store.write("g-truncate", [{ type: "entries", entries: [entry(3, 2)] }]);
      await store.sync();
      await restart();
      assert.deepEqual(store.load("g-truncate")!.entries, [entry(1, 1), entry(2, 1), entry(3, 2)]);
    });

    test("writes not yet synced are lost in a crash; synced writes are kept", async () => {
      store.createGroup("g-crash", founders);
      store.write("g-crash", [{ type: "entries", entries: [entry(1, 1)] }]);
      await store.sync();
      store.write("g-crash", [
        { type: "entries", entries: [entry(2, 1)] },
        { type: "hardState", hardState: hardState(2, "b", 2) },
      ]);
      await restart(true);
      const loaded = store.load("g-crash")!;
      assert.deepEqual(loaded.entries, [entry(1, 1)]);
      assert.deepEqual(loaded.hardState, hardState(0, null, 0));
    });

    test("installing a snapshot discards the whole log and keeps the snapshot's data", async () => {
      store.createGroup("g-install", founders);
      store.write("g-install", [{ type: "entries", entries: [1, 2, 3].map((i) => entry(i, 1)) }]);
      await store.sync();
      store.write("g-install", [
        { type: "install", snapshot: snapshot(10, 3, "state@10") },
        { type: "entries", entries: [entry(11, 3)] },
      ]);
      await store.sync();
      await restart();
      const loaded = store.load("g-install")!;
      assert.deepEqual(loaded.snapshot, snapshot(10, 3, "state@10"));
      assert.deepEqual(loaded.entries, [entry(11, 3)]);
    });

    test("a compaction drops the entries it covers and keeps the ones after it", async () => {
      store.createGroup("g-compact", founders);
      store.write("g-compact", [
        { type: "entries", entries: [1, 2, 3, 4].map((i) => entry(i, 1)) },
      ]);
      await store.sync();
      store.write("g-compact", [{ type: "compact", snapshot: snapshot(2, 1, "state@2") }]);
      await store.sync();
      await restart();
      const loaded = store.load("g-compact")!;
      assert.deepEqual(loaded.snapshot, snapshot(2, 1, "state@2"));
      assert.deepEqual(loaded.entries, [entry(3, 1), entry(4, 1)]);
    });

    test("a dropped group is gone after a restart and can be created again, empty", async () => {
      store.createGroup("g-drop", founders);
      store.write("g-drop", [
        { type: "entries", entries: [entry(1, 1)] },
        { type: "compact", snapshot: snapshot(1, 1, "old") },
      ]);
      await store.sync();
      store.dropGroup("g-drop");
      assert.throws(() => store.createGroup("g-drop", founders), /sync/);
      await store.sync();
      await restart();
      assert.equal(store.load("g-drop"), undefined);
      store.createGroup("g-drop", { voters: ["x"], learners: [] });
      await store.sync();
      await restart();
      assert.deepEqual(
        store.load("g-drop"),
        initialPersistedState({ voters: ["x"], learners: [] }),
      );
    });

    test("writes to a group that does not exist are refused", () => {
      assert.throws(() => store.write("g-missing", [{ type: "entries", entries: [entry(1, 1)] }]));
      assert.throws(() => store.dropGroup("g-missing"));
    });

    test("one sync makes the writes of many groups durable, and concurrent syncs lose nothing", async () => {
      const groups = Array.from({ length: 20 }, (_, i) => `g-many-${i}`);
      const syncs: Promise<void>[] = [];
      for (const groupId of groups) {
        store.createGroup(groupId, founders);
        store.write(groupId, [{ type: "entries", entries: [entry(1, 1, groupId)] }]);
        syncs.push(store.sync());
      }
      await Promise.all(syncs);
      await restart(true);
      for (const groupId of groups) {
        assert.deepEqual(store.load(groupId)!.entries, [entry(1, 1, groupId)], groupId);
      }
    });

    test("random writes, syncs and crashes leave exactly the synced writes (model check)", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(operationArbitrary, { minLength: 1, maxLength: 40 }),
          async (ops) => {
            const groupId = `g-model-${modelRuns++}`;
            store.createGroup(groupId, founders);
            await store.sync();
            let durable = new RaftLogImage(initialPersistedState(founders));
            let staged: RaftLogWrite[] = [];
            let term = 1;
            for (const op of ops) {
              const model = new RaftLogImage(durable.persistedState());
              for (const write of staged) model.apply(write);
              const write =
                op.kind === "sync" || op.kind === "crash" ? null : makeWrite(op, model, term);
              if (write !== null) {
                if (write.type === "entries" || write.type === "install")
                  term = Math.max(term, termOf(write));
                staged.push(write);
                store.write(groupId, [write]);
              } else if (op.kind === "sync") {
                await store.sync();
                durable = model;
                staged = [];
                assert.deepEqual(store.load(groupId), durable.persistedState());
              } else if (op.kind === "crash") {
                await restart(true);
                staged = [];
                assert.deepEqual(store.load(groupId), durable.persistedState());
              }
            }
          },
        ),
        { numRuns: 25, seed: 7 },
      );
    });
  });
}

let modelRuns = 0;

type Operation =
  | { kind: "append"; back: number; count: number; bumpTerm: boolean }
  | { kind: "hardState"; commit: number }
  | { kind: "compact"; back: number }
  | { kind: "install"; ahead: number }
  | { kind: "sync" }
  | { kind: "crash" };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      back: fc.nat(3),
      count: fc.integer({ min: 1, max: 4 }),
      bumpTerm: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("hardState" as const), commit: fc.nat(20) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), back: fc.nat(3) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("install" as const),
      ahead: fc.integer({ min: 1, max: 5 }),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: "sync" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "crash" as const }) },
);

/** A write that a correct Raft node could issue against the (staged) model log. */
function makeWrite(op: Operation, model: RaftLogImage, term: number): RaftLogWrite | null {
  const state = model.persistedState();
  const base = state.snapshot.meta.index;
  const last = model.lastIndex();
  switch (op.kind) {
    case "append": {
      const first = Math.max(base + 1, last + 1 - op.back);
      const entryTerm = op.bumpTerm ? term + 1 : term;
      const entries = Array.from({ length: op.count }, (_, i) => entry(first + i, entryTerm));
      return { type: "entries", entries };
    }
    case "hardState":
      return { type: "hardState", hardState: hardState(term, "a", op.commit) };
    case "compact": {
      const index = last - op.back;
      if (index <= base) return null;
      const entryTerm = state.entries.find((e) => e.index === index)!.term;
      return { type: "compact", snapshot: snapshot(index, entryTerm, `compact@${index}`) };
    }
    case "install":
      return {
        type: "install",
        snapshot: snapshot(last + op.ahead, term + 1, `install@${last + op.ahead}`),
      };
    default:
      return null;
  }
}

function termOf(write: RaftLogWrite): number {
  if (write.type === "entries") return write.entries[write.entries.length - 1].term;
  if (write.type === "install") return write.snapshot.meta.term;
  return 0;
}
