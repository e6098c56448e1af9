/**
 * Randomized crash test of the file store with tiny segments: random Raft-like writes,
 * compactions and installs are synced in batches; then one more batch is written and torn at
 * a random byte of the newest segment, as a power cut in the middle of a write would. The
 * reopened store must hold exactly the synced state plus a prefix of the torn batch's writes,
 * after segments have rolled and been deleted many times.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import type { LogEntry, PersistedState } from "../../../src/raft/index.js";
import { initialPersistedState } from "../../../src/raft/index.js";
import { FileRaftLogStore } from "../../../src/store/file-raft-log-store.js";
import type { RaftLogWrite } from "../../../src/store/raft-log-image.js";
import { RaftLogImage } from "../../../src/store/raft-log-image.js";

const founders = { voters: ["a", "b", "c"], learners: [] };
const GROUPS = ["meta", "q1", "q2"];

interface GroupModel {
  image: RaftLogImage;
  term: number;
}

function entry(index: number, term: number, size: number): LogEntry {
  return { index, term, kind: "command", data: new Uint8Array(size).fill(index % 251) };
}

/** A write a correct Raft node could issue next, chosen by the random numbers given. */
function nextWrite(model: GroupModel, roll: number, size: number): RaftLogWrite {
  const state = model.image.persistedState();
  const base = state.snapshot.meta.index;
  const last = model.image.lastIndex();
  if (roll < 0.55) {
    const back = roll < 0.08 ? Math.min(2, last - base) : 0;
    if (back > 0) model.term++;
    const first = last + 1 - back;
    return {
      type: "entries",
      entries: [entry(first, model.term, size), entry(first + 1, model.term, size)],
    };
  }
  if (roll < 0.8) {
    return { type: "hardState", hardState: { term: model.term, votedFor: "a", commitIndex: last } };
  }
  if (roll < 0.95 && last - 1 > base) {
    const index = last - 1;
    const term = state.entries.find((e) => e.index === index)!.term;
    const snapshot = {
      meta: { index, term, membership: founders },
      data: new Uint8Array([index % 256]),
    };
    return { type: "compact", snapshot };
  }
  model.term++;
  const index = last + 3;
  const snapshot = {
    meta: { index, term: model.term, membership: founders },
    data: new Uint8Array([7]),
  };
  return { type: "install", snapshot };
}

async function newestSegment(directory: string): Promise<string> {
  const names = (await readdir(join(directory, "wal"))).sort();
  return join(directory, "wal", names[names.length - 1]);
}

test("a crash that tears the last write leaves the synced state plus a prefix of that write, across segment rolls and deletions", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 200 })),
        {
          minLength: 20,
          maxLength: 120,
        },
      ),
      fc.array(fc.tuple(fc.nat(GROUPS.length - 1), fc.integer({ min: 1, max: 200 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      async (steps, tornBatch, tearAt) => {
        const directory = await mkdtemp(join(tmpdir(), "warren-crash-"));
        try {
          let store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 700 });
          const models = new Map<string, GroupModel>();
          for (const groupId of GROUPS) {
            store.createGroup(groupId, founders);
            models.set(groupId, {
              image: new RaftLogImage(initialPersistedState(founders)),
              term: 1,
            });
          }
          await store.sync();
          for (const [step, [roll, size]] of steps.entries()) {
            const groupId = GROUPS[step % GROUPS.length];
            const model = models.get(groupId)!;
            const write = nextWrite(model, roll, size);
            model.image.apply(write);
            store.write(groupId, [write]);
            if (step % 4 === 3) await store.sync();
          }
          await store.sync();
          if (store.segmentIds()[0] > 1) runsWithDeletedSegments++;
          // The torn batch: entries and hard states only (a torn snapshot is tested elsewhere).
          const synced = new Map([...models].map(([id, m]) => [id, m.image.persistedState()]));
          const tornWrites: Array<{ groupId: string; write: RaftLogWrite }> = [];
          for (const [groupIndex, size] of tornBatch) {
            const groupId = GROUPS[groupIndex];
            const model = models.get(groupId)!;
            const write = nextWrite(model, size % 2 === 0 ? 0.3 : 0.7, size);
            model.image.apply(write);
            store.write(groupId, [write]);
            tornWrites.push({ groupId, write });
          }
          const segment = await newestSegment(directory);
          const before = (await stat(segment)).size;
          await store.sync();
          const after = (await stat(segment)).size;
          await store.abandon();
          if (segment === (await newestSegment(directory))) {
            await truncate(segment, Math.floor(before + tearAt * (after - before)));
          }
          store = await FileRaftLogStore.open(directory, { segmentSizeBytes: 700 });
          // Some prefix of the torn batch survived: find it.
          const candidates: Map<string, PersistedState>[] = [];
          const replay = new Map([...synced].map(([id, s]) => [id, new RaftLogImage(s)]));
          candidates.push(new Map([...replay].map(([id, image]) => [id, image.persistedState()])));
          for (const { groupId, write } of tornWrites) {
            replay.get(groupId)!.apply(write);
            candidates.push(
              new Map([...replay].map(([id, image]) => [id, image.persistedState()])),
            );
          }
          const recovered = new Map(GROUPS.map((id) => [id, store.load(id)!]));
          const matches = candidates.some((candidate) =>
            GROUPS.every((id) => isDeepEqual(candidate.get(id), recovered.get(id))),
          );
          assert.ok(
            matches,
            "recovered state is not the synced state plus a prefix of the torn batch",
          );
          await store.close();
        } finally {
          await rm(directory, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 60, seed: 42 },
  );
  assert.ok(runsWithDeletedSegments >= 5, `only ${runsWithDeletedSegments} runs deleted segments`);
});

let runsWithDeletedSegments = 0;

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
