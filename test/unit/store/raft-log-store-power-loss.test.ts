/**
 * The Raft log store on a simulated disk whose page cache a power loss throws away: random
 * Raft-like writes are synced in batches, some awaited, some still in flight (several syncs
 * share one fdatasync), with power losses at random moments, across segment rotations and
 * deletions. After each power loss the reopened store must hold exactly the writes of some
 * prefix of what was submitted, at least every write whose sync had resolved: durability is
 * never reported early, and nothing torn or reordered survives.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { LogEntry, PersistedState } from "../../../src/raft/index.js";
import { initialPersistedState } from "../../../src/raft/index.js";
import { FileRaftLogStore } from "../../../src/store/file-raft-log-store.js";
import type { RaftLogWrite } from "../../../src/store/raft-log-image.js";
import { RaftLogImage } from "../../../src/store/raft-log-image.js";
import { SimulatedDisk } from "../../support/simulated-disk.js";

const DIR = "/sim/raft";
const GROUPS = ["meta", "q"];
const founders = { voters: ["a", "b", "c"], learners: [] };

interface Submitted {
  readonly groupId: string;
  readonly write: RaftLogWrite;
}

type Op =
  | { kind: "batch"; rolls: [number, number, number][]; await: boolean }
  | { kind: "turn" }
  | { kind: "settle" }
  | { kind: "powerLoss" };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      rolls: fc.array(
        fc.tuple(
          fc.nat(GROUPS.length - 1),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.integer({ min: 1, max: 120 }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      await: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "turn" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "settle" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "powerLoss" as const }) },
);

function entry(index: number, term: number, size: number): LogEntry {
  return { index, term, kind: "command", data: new Uint8Array(size).fill(index % 251) };
}

/**
 * A write a correct Raft node could issue next. Snapshots (compact, install) come alone in
 * their batch, as the driver issues them after applying, so a snapshot file written just
 * before a power loss is the effect of exactly the next write.
 */
function nextWrite(image: RaftLogImage, term: { value: number }, roll: number, size: number) {
  const state = image.persistedState();
  const base = state.snapshot.meta.index;
  const last = image.lastIndex();
  if (roll < 0.55) {
    const back = roll < 0.08 ? Math.min(2, last - base) : 0;
    if (back > 0) term.value++;
    const first = last + 1 - back;
    return {
      write: {
        type: "entries",
        entries: [entry(first, term.value, size), entry(first + 1, term.value, size)],
      } as RaftLogWrite,
      alone: false,
    };
  }
  if (roll < 0.8 || last - 1 <= base) {
    const hardState = { term: term.value, votedFor: "a", commitIndex: last };
    return { write: { type: "hardState", hardState } as RaftLogWrite, alone: false };
  }
  if (roll < 0.95) {
    const index = last - 1;
    const entryTerm = state.entries.find((e) => e.index === index)!.term;
    const meta = { index, term: entryTerm, membership: founders };
    return {
      write: { type: "compact", snapshot: { meta, data: new Uint8Array([index % 256]) } } as const,
      alone: true,
    };
  }
  term.value++;
  const meta = { index: last + 3, term: term.value, membership: founders };
  return {
    write: { type: "install", snapshot: { meta, data: new Uint8Array([7]) } } as const,
    alone: true,
  };
}

/** Each group's state after the first `count` submitted writes. */
function stateAfter(writes: readonly Submitted[], count: number): Map<string, PersistedState> {
  const images = new Map(
    GROUPS.map((id) => [id, new RaftLogImage(initialPersistedState(founders))]),
  );
  for (const { groupId, write } of writes.slice(0, count)) images.get(groupId)!.apply(write);
  return new Map([...images].map(([id, image]) => [id, image.persistedState()]));
}

function sameState(a: Map<string, PersistedState>, b: Map<string, PersistedState>): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

let powerLosses = 0;
let deletions = 0;

test("after a power loss the store holds a prefix of the submitted writes that includes every synced one", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 5, maxLength: 50 }), async (ops) => {
      const disk = new SimulatedDisk();
      const open = () => FileRaftLogStore.open(DIR, { fs: disk, segmentSizeBytes: 512 });
      let store = await open();
      for (const groupId of GROUPS) store.createGroup(groupId, founders);
      await store.sync();
      let writes: Submitted[] = [];
      let synced = 0;
      /** Bumped by each power loss: a sync of an earlier life never counts. */
      let life = 0;
      let inFlight: Promise<void>[] = [];
      const model = new Map(
        GROUPS.map((id) => [id, new RaftLogImage(initialPersistedState(founders))]),
      );
      const terms = new Map(GROUPS.map((id) => [id, { value: 1 }]));
      for (const op of ops) {
        if (op.kind === "batch") {
          for (const [groupIndex, roll, size] of op.rolls) {
            const groupId = GROUPS[groupIndex]!;
            const { write, alone } = nextWrite(
              model.get(groupId)!,
              terms.get(groupId)!,
              roll,
              size,
            );
            if (alone && op.rolls.length > 1) continue;
            model.get(groupId)!.apply(write);
            writes.push({ groupId, write });
            store.write(groupId, [write]);
          }
          const covers = writes.length;
          const ofLife = life;
          const done = store.sync().then(() => {
            if (ofLife === life) synced = Math.max(synced, covers);
          });
          if (op.await) await done;
          else inFlight.push(done.catch(() => {}));
        } else if (op.kind === "turn") {
          await new Promise((resolve) => setImmediate(resolve));
        } else if (op.kind === "settle") {
          await Promise.all(inFlight);
          inFlight = [];
        } else {
          disk.powerLoss();
          powerLosses++;
          life++;
          void store.abandon().catch(() => {});
          inFlight = [];
          store = await open();
          const recovered = new Map(GROUPS.map((id) => [id, store.load(id)!]));
          let kept = -1;
          for (let count = writes.length; count >= synced && kept < 0; count--) {
            if (sameState(stateAfter(writes, count), recovered)) kept = count;
          }
          assert.ok(
            kept >= 0,
            `recovered state is no prefix of the ${writes.length} submitted writes including the ${synced} synced`,
          );
          writes = writes.slice(0, kept);
          synced = kept;
          for (const [id, state] of recovered) model.set(id, new RaftLogImage(state));
        }
        if (store.segmentIds()[0]! > 1) deletions++;
      }
      await Promise.all(inFlight);
      await store.close();
    }),
    { numRuns: 60, seed: 15 },
  );
  assert.ok(powerLosses >= 20, `only ${powerLosses} power losses`);
  assert.ok(deletions >= 5, `segments were deleted in only ${deletions} steps`);
});

/** A simulated disk whose fdatasyncs wait until the test lets them run. */
class HeldSyncDisk extends SimulatedDisk {
  readonly held: { path: string; run: () => void }[] = [];
  private readonly paths = new Map<number, string>();

  override openSync(path: string, flags: string): number {
    const fd = super.openSync(path, flags);
    this.paths.set(fd, path);
    return fd;
  }

  override fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    this.held.push({ path: this.paths.get(fd) ?? "", run: () => super.fdatasync(fd, cb) });
  }

  /** Lets the oldest waiting fdatasync (or the first one on a file `matching`) run. */
  async release(matching?: RegExp): Promise<void> {
    const at = matching ? this.held.findIndex((h) => matching.test(h.path)) : 0;
    assert.ok(at >= 0 && at < this.held.length, "an fdatasync is waiting");
    const [next] = this.held.splice(at, 1);
    next!.run();
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(condition());
}

test("a power loss before the newest segment's first fdatasync finds the segment before it still there", async () => {
  // Everything in segment 1 is covered by a snapshot when segment 2 starts. A sync that
  // becomes durable then may delete covered segments, but not the last one before a segment
  // whose checkpoint no fdatasync has covered yet: a power loss takes that checkpoint, and
  // replay must start from one that survives.
  const disk = new HeldSyncDisk();
  const open = () => FileRaftLogStore.open(DIR, { fs: disk, segmentSizeBytes: 1024 });
  const store = await open();
  const synced = async () => {
    const done = store.sync();
    await until(() => disk.held.length > 0);
    await disk.release();
    await done;
  };
  store.createGroup("a", founders);
  store.write("a", [{ type: "entries", entries: [entry(1, 1, 10), entry(2, 1, 10)] }]);
  await synced();
  const snapshot = { meta: { index: 2, term: 1, membership: founders }, data: new Uint8Array([2]) };
  const hardState = { term: 1, votedFor: "a", commitIndex: 2 };
  store.write("a", [{ type: "compact", snapshot }]);
  store.write("a", [{ type: "hardState", hardState }]);
  const snapshotWritten = store.sync();
  await until(() => disk.held.length > 0);
  await disk.release(); // the snapshot file's fdatasync
  await until(() => disk.held.length > 0);
  await disk.release(); // the WAL's
  await snapshotWritten;
  const expected = store.load("a");
  store.write("a", [{ type: "hardState", hardState }]);
  const first = store.sync();
  await until(() => disk.held.length === 1); // the first sync's fdatasync is in flight
  store.write("a", [{ type: "entries", entries: [entry(3, 1, 1200)] }]);
  void store.sync().catch(() => {}); // starts segment 2, its checkpoint not yet synced
  await until(() => store.segmentIds().includes(2));
  await disk.release(); // the first sync returns, and deletes what it may
  await first;
  disk.powerLoss();
  void store.abandon().catch(() => {});
  const reopened = await open();
  assert.deepEqual(reopened.load("a"), expected);
  void reopened.abandon().catch(() => {});
});

test("a snapshot file is written only once every earlier WAL record is durable", async () => {
  // Otherwise a power loss could keep a snapshot that covers entries the WAL lost: the
  // recovered log would hold the snapshot but not the entry after it that came with them.
  const disk = new HeldSyncDisk();
  const store = await FileRaftLogStore.open(DIR, { fs: disk });
  store.createGroup("a", founders);
  store.write("a", [{ type: "entries", entries: [entry(1, 1, 10), entry(2, 1, 10)] }]);
  const created = store.sync();
  await until(() => disk.held.length > 0);
  await disk.release();
  await created;
  const durable = store.load("a");
  store.write("a", [{ type: "entries", entries: [entry(3, 1, 10), entry(4, 1, 10)] }]);
  void store.sync().catch(() => {});
  await until(() => disk.held.length === 1); // the entries' fdatasync is in flight
  const meta = { index: 3, term: 1, membership: founders };
  store.write("a", [{ type: "compact", snapshot: { meta, data: new Uint8Array([3]) } }]);
  void store.sync().catch(() => {});
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  // Every snapshot file's fdatasync that was asked for completes; the WAL's does not.
  while (disk.held.some((h) => h.path.endsWith(".tmp"))) await disk.release(/\.tmp$/);
  disk.powerLoss();
  void store.abandon().catch(() => {});
  const reopened = await FileRaftLogStore.open(DIR, { fs: disk });
  assert.deepEqual(reopened.load("a"), durable);
  void reopened.abandon().catch(() => {});
});
