import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type DefinitionsFs, nodeDefinitionsFs } from "../../../src/store/definitions-file-fs.js";
import {
  type DefinitionsSnapshot,
  DefinitionsStore,
  DefinitionsUnusableError,
} from "../../../src/store/definitions-store.js";

function snapshot(nextQueueId: number, vhosts: string[] = ["/"]): DefinitionsSnapshot {
  return {
    format: "warren-definitions-1",
    nextQueueId,
    vhosts: vhosts.map((name) => ({ name })),
    users: [],
    permissions: [],
    exchanges: [],
    queues: [],
    bindings: [],
  };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "warren-defs-"));
}

/** A data dir whose definitions.json holds version `n` and whose backup holds `n - 1`. */
async function savedTwice(dir: string, n: number): Promise<void> {
  const store = new DefinitionsStore(dir);
  store.load();
  await store.save(snapshot(n - 1));
  await store.save(snapshot(n));
}

test("every save keeps the previous definitions.json as definitions.json.bak", async () => {
  const dir = tempDir();
  await savedTwice(dir, 3);
  const store = new DefinitionsStore(dir);
  assert.equal(store.load()!.snapshot.nextQueueId, 3);
  const backup = JSON.parse(readFileSync(join(dir, "definitions.json.bak"), "utf8"));
  assert.equal(backup.nextQueueId, 2);
  await store.save(snapshot(4));
  const backup2 = JSON.parse(readFileSync(join(dir, "definitions.json.bak"), "utf8"));
  assert.equal(backup2.nextQueueId, 3);
  assert.ok(!existsSync(join(dir, "definitions.json.tmp")));
  assert.ok(!existsSync(join(dir, "definitions.json.bak.tmp")));
  rmSync(dir, { recursive: true });
});

test("a truncated definitions.json falls back to the backup and says which file and why", async () => {
  const dir = tempDir();
  await savedTwice(dir, 7);
  truncateSync(join(dir, "definitions.json"), 40);
  const loaded = new DefinitionsStore(dir).load()!;
  assert.equal(loaded.snapshot.nextQueueId, 6);
  assert.equal(loaded.path, join(dir, "definitions.json.bak"));
  assert.equal(loaded.fallback!.badPath, join(dir, "definitions.json"));
  assert.match(loaded.fallback!.problem, /not valid JSON/);
  assert.ok(loaded.fallback!.backupMtimeMs > 0);
  rmSync(dir, { recursive: true });
});

test("a missing definitions.json falls back to the backup", async () => {
  const dir = tempDir();
  await savedTwice(dir, 5);
  unlinkSync(join(dir, "definitions.json"));
  const loaded = new DefinitionsStore(dir).load()!;
  assert.equal(loaded.snapshot.nextQueueId, 4);
  assert.equal(loaded.fallback!.problem, "missing");
  rmSync(dir, { recursive: true });
});

test("a definitions.json of the wrong shape is damaged too", async () => {
  const dir = tempDir();
  await savedTwice(dir, 5);
  for (const bad of ["", "[]", '{"format":"other"}', '{"format":"warren-definitions-1"}']) {
    writeFileSync(join(dir, "definitions.json"), bad);
    const loaded = new DefinitionsStore(dir).load()!;
    assert.equal(loaded.snapshot.nextQueueId, 4, `fallback for ${JSON.stringify(bad)}`);
    assert.ok(loaded.fallback!.problem.length > 0);
  }
  rmSync(dir, { recursive: true });
});

test("with no usable file the error names both files and what is wrong with each", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "definitions.json"), '{"format": "warren-defin');
  assert.throws(
    () => new DefinitionsStore(dir).load(),
    (e: Error) =>
      e instanceof DefinitionsUnusableError &&
      e.message.includes(join(dir, "definitions.json")) &&
      e.message.includes("not valid JSON") &&
      e.message.includes(`${join(dir, "definitions.json.bak")}: missing`),
  );
  rmSync(dir, { recursive: true });
});

test("no files at all is a first start", () => {
  const dir = tempDir();
  assert.equal(new DefinitionsStore(dir).load(), undefined);
  rmSync(dir, { recursive: true });
});

test("the first save after a fallback keeps the good backup and moves the damaged file aside", async () => {
  const dir = tempDir();
  await savedTwice(dir, 5);
  writeFileSync(join(dir, "definitions.json"), "{ garbage");
  const store = new DefinitionsStore(dir);
  assert.equal(store.load()!.snapshot.nextQueueId, 4);
  await store.save(snapshot(9));
  assert.equal(JSON.parse(readFileSync(join(dir, "definitions.json.bak"), "utf8")).nextQueueId, 4);
  assert.equal(readFileSync(join(dir, "definitions.json.damaged"), "utf8"), "{ garbage");
  assert.equal(new DefinitionsStore(dir).load()!.snapshot.nextQueueId, 9);
  rmSync(dir, { recursive: true });
});

/** node's file operations, except that the `crashAt`-th change of the directory never happens. */
function crashingFs(crashAt: number): DefinitionsFs & { steps: number } {
  const fs = { ...nodeDefinitionsFs, steps: 0 };
  const step =
    <A extends unknown[]>(fn: (...a: A) => Promise<void>) =>
    async (...a: A) => {
      if (fs.steps++ === crashAt) throw new Error("crash");
      await fn(...a);
    };
  fs.writeDurable = step(nodeDefinitionsFs.writeDurable);
  fs.link = step(nodeDefinitionsFs.link);
  fs.rename = step(nodeDefinitionsFs.rename);
  fs.unlink = step(nodeDefinitionsFs.unlink);
  fs.syncDir = step(nodeDefinitionsFs.syncDir);
  return fs;
}

test("a crash at any step of a save leaves the old or the new definitions, never none", async () => {
  for (let crashAt = 0; ; crashAt++) {
    const dir = tempDir();
    await savedTwice(dir, 2);
    const fs = crashingFs(crashAt);
    const store = new DefinitionsStore(dir, fs);
    store.load();
    const completed = await store.save(snapshot(3)).then(
      () => true,
      () => false,
    );
    const after = new DefinitionsStore(dir).load();
    assert.ok(after, `crash at step ${crashAt}: definitions are there`);
    assert.ok(
      [2, 3].includes(after.snapshot.nextQueueId),
      `crash at step ${crashAt}: got ${after.snapshot.nextQueueId}`,
    );
    assert.equal(after.fallback, undefined, `crash at step ${crashAt}: definitions.json is whole`);
    rmSync(dir, { recursive: true });
    if (completed) break;
    assert.ok(crashAt < 20, "the save has a bounded number of steps");
  }
});

test("a failed write rejects the save with the file's name and leaves definitions.json as it was", async () => {
  const dir = tempDir();
  await savedTwice(dir, 2);
  const full: DefinitionsFs = {
    ...nodeDefinitionsFs,
    writeDurable: async () => {
      const e = new Error("ENOSPC: no space left on device, write") as NodeJS.ErrnoException;
      e.code = "ENOSPC";
      throw e;
    },
  };
  const store = new DefinitionsStore(dir, full);
  store.load();
  await assert.rejects(store.save(snapshot(3)), (e: NodeJS.ErrnoException) => {
    assert.match(e.message, new RegExp(join(dir, "definitions.json")));
    assert.match(e.message, /ENOSPC/);
    assert.equal(e.code, "ENOSPC");
    return true;
  });
  assert.equal(new DefinitionsStore(dir).load()!.snapshot.nextQueueId, 2);
  rmSync(dir, { recursive: true });
});

test("a file system without hard links gets a copied backup", async () => {
  const dir = tempDir();
  await savedTwice(dir, 2);
  const noLinks: DefinitionsFs = {
    ...nodeDefinitionsFs,
    link: async () => {
      const e = new Error("EPERM: operation not permitted, link") as NodeJS.ErrnoException;
      e.code = "EPERM";
      throw e;
    },
  };
  const store = new DefinitionsStore(dir, noLinks);
  store.load();
  await store.save(snapshot(3));
  assert.equal(JSON.parse(readFileSync(join(dir, "definitions.json.bak"), "utf8")).nextQueueId, 2);
  rmSync(dir, { recursive: true });
});
