import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { DefinitionsSaver } from "../../../src/vhost/definitions-saver.js";
import { openClient } from "../../support/in-process-client.js";

/** A saver whose saves finish when the test says, with the turn's scheduling done by hand. */
function harness() {
  const saves: { n: number; done: () => void; fail: (e: Error) => void }[] = [];
  const scheduled: (() => void)[] = [];
  const failures: Error[] = [];
  let built = 0;
  const saver = new DefinitionsSaver({
    build: () => ({ nextQueueId: ++built }) as unknown as DefinitionsSnapshot,
    save: (s) =>
      new Promise<void>((resolve, reject) =>
        saves.push({ n: s.nextQueueId, done: resolve, fail: reject }),
      ),
    schedule: (fn) => scheduled.push(fn),
    failed: (e) => failures.push(e),
  });
  const endOfTurn = () => {
    for (const fn of scheduled.splice(0)) fn();
  };
  return { saver, saves, endOfTurn, failures };
}

const settled = (p: Promise<void> | undefined) => {
  const state = { value: "pending" as "pending" | "resolved" | "rejected" };
  p?.then(
    () => {
      state.value = "resolved";
    },
    () => {
      state.value = "rejected";
    },
  );
  return state;
};
const tick = () => new Promise((r) => setImmediate(r));

test("the changes of one turn share one save", async () => {
  const { saver, saves, endOfTurn } = harness();
  saver.changed();
  saver.changed();
  saver.changed();
  const waiting = settled(saver.whenPendingSaved());
  endOfTurn();
  assert.equal(saves.length, 1);
  saves[0]!.done();
  await tick();
  assert.equal(waiting.value, "resolved");
  assert.equal(saver.whenPendingSaved(), undefined, "nothing pending afterwards");
});

test("changes made while a save runs wait for the next save, which covers them all", async () => {
  const { saver, saves, endOfTurn } = harness();
  saver.changed();
  endOfTurn();
  const first = settled(saver.whenSaved(saver.version));
  saver.changed();
  saver.changed();
  const second = settled(saver.whenSaved(saver.version));
  endOfTurn();
  assert.equal(saves.length, 1, "one save at a time");
  saves[0]!.done();
  await tick();
  assert.equal(first.value, "resolved");
  assert.equal(second.value, "pending", "the first save was built before these changes");
  endOfTurn();
  assert.equal(saves.length, 2, "the later changes were coalesced into one save");
  saves[1]!.done();
  await tick();
  assert.equal(second.value, "resolved");
});

test("a failed save rejects its waiters, and asking again saves again", async () => {
  const { saver, saves, endOfTurn, failures } = harness();
  saver.changed();
  const version = saver.version;
  const waiting = settled(saver.whenSaved(version));
  endOfTurn();
  saves[0]!.fail(new Error("ENOSPC"));
  await tick();
  assert.equal(waiting.value, "rejected");
  assert.equal(failures.length, 1);
  // The disk is back: the same version is saved again when someone waits for it.
  const retry = settled(saver.whenSaved(version));
  endOfTurn();
  assert.equal(saves.length, 2);
  saves[1]!.done();
  await tick();
  assert.equal(retry.value, "resolved");
  assert.equal(saver.whenSaved(version), undefined);
});

test("a broker answers definitionsSaved only once its asynchronous save is on disk", async () => {
  let finish: (() => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store: undefined as never,
    saveDefinitions: () =>
      new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      }),
    schedule: (fn) => setImmediate(fn),
  });
  broker.bootstrapDefaults();
  broker.addVhost("v1");
  const saved = settled(broker.definitionsSaved());
  await tick();
  await tick();
  assert.ok(finish, "the save started");
  assert.equal(saved.value, "pending", "not answered before the file is on disk");
  finish!();
  await tick();
  assert.equal(saved.value, "resolved");
  // A failing save rejects whoever waits for it.
  const before = broker.definitionsVersion;
  broker.addVhost("v2");
  assert.ok(broker.definitionsVersion > before, "a durable change bumps the version");
  const failing = settled(broker.definitionsSaved(broker.definitionsVersion));
  await tick();
  await tick();
  fail!(new Error("EIO"));
  await tick();
  assert.equal(failing.value, "rejected");
});

test("a durable declare whose definitions cannot be saved (disk full) is refused with 506, not 541", async () => {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, {
    store: new MemoryMessageStore(),
    saveDefinitions: () => {
      const e = new Error("could not save /d/definitions.json: ENOSPC") as NodeJS.ErrnoException;
      e.code = "ENOSPC";
      return Promise.reject(e);
    },
    schedule: (fn) => setImmediate(fn),
  });
  broker.bootstrapDefaults();
  await tick();
  const client = openClient(broker);
  client.declareQueue(1, "durable.q", { durable: true });
  for (let i = 0; i < 4; i++) await tick();
  const close = client.pump().find((r) => r.method.name === "connection.close")?.method as
    | { replyCode: number; replyText: string }
    | undefined;
  assert.equal(close?.replyCode, 506);
  assert.match(close!.replyText, /RESOURCE_ERROR - could not store definitions: .*ENOSPC/);
});
