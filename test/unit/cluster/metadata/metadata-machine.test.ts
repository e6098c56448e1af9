import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeCommand } from "../../../../src/cluster/metadata/metadata-codec.js";
import { MetadataMachine } from "../../../../src/cluster/metadata/metadata-machine.js";
import { silentLog } from "../../../../src/log.js";
import { AmqpError } from "../../../../src/protocol/amqp-error.js";
import type { LogEntry, Snapshot } from "../../../../src/raft/index.js";
import { systemSources } from "../../../../src/runtime/system-sources.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import type { MetadataCommand } from "../../../../src/vhost/commands/command-types.js";
import { BOOTSTRAP_COMMANDS, commandSequence, digest } from "../../../support/metadata-commands.js";
import { assertLiveMirrorsState } from "./live-topology.js";

const NO_MEMBERS = { voters: [], learners: [] };
const emptySnapshot: Snapshot = {
  meta: { index: 0, term: 0, membership: NO_MEMBERS },
  data: new Uint8Array(),
};

/** A node: a broker whose definitions the machine applies to, started as a new group does. */
function node(name: string): { broker: Broker; machine: MetadataMachine } {
  const broker = new Broker({ ...DEFAULT_SETTINGS, nodeName: name }, silentLog, systemSources);
  const machine = new MetadataMachine(broker.metadataReplica());
  machine.restore(emptySnapshot);
  return { broker, machine };
}

/** The commands as a log: terms rise now and then, and noop and membership entries sit between. */
function logOf(commands: readonly MetadataCommand[]): LogEntry[] {
  const entries: LogEntry[] = [];
  let term = 1;
  for (const [i, c] of [...BOOTSTRAP_COMMANDS, ...commands].entries()) {
    if (i % 7 === 3) {
      term++;
      entries.push({ index: entries.length + 1, term, kind: "noop", data: new Uint8Array() });
    }
    if (i % 11 === 5) {
      const data = new TextEncoder().encode(JSON.stringify({ voters: ["a"], learners: [] }));
      entries.push({ index: entries.length + 1, term, kind: "membership", data });
    }
    // In a cluster the declaring node names the new queue's home.
    const command = c.type === "queue.declare" && i % 2 === 0 ? { ...c, home: `n${i % 3}` } : c;
    entries.push({
      index: entries.length + 1,
      term,
      kind: "command",
      data: encodeCommand(command),
    });
  }
  return entries;
}

/** What a reply says, as data (a declared queue by its name and id). */
function said(reply: unknown): string {
  return JSON.stringify(reply, (_k, v) =>
    v && typeof v === "object" && "definition" in v && "id" in v
      ? { queue: v.definition.name, id: v.id }
      : typeof v === "bigint"
        ? v.toString()
        : v instanceof Map
          ? [...v]
          : v,
  );
}

test("the same entries applied on two nodes give equal states, equal answers and live topologies that mirror them", () => {
  fc.assert(
    fc.property(commandSequence, (commands) => {
      const a = node("a");
      const b = node("b");
      const entries = logOf(commands);
      const answersA = entries.map((e) => said(a.machine.apply(e)));
      const answersB = entries.map((e) => said(b.machine.apply(e)));
      assert.deepEqual(answersB, answersA);
      assert.deepEqual(digest(b.broker.metadata), digest(a.broker.metadata));
      assert.equal(a.machine.appliedIndex(), entries.length);
      assertLiveMirrorsState(a.broker);
      assertLiveMirrorsState(b.broker);
    }),
    { numRuns: 150 },
  );
});

test("a node restored from a snapshot at any point, whatever it held before, continues to the same state", () => {
  fc.assert(
    fc.property(commandSequence, commandSequence, fc.nat(), (commands, otherHistory, cutAt) => {
      const leader = node("a");
      const entries = logOf(commands);
      const cut = cutAt % (entries.length + 1);
      for (const e of entries.slice(0, cut)) leader.machine.apply(e);
      const snapshot: Snapshot = {
        meta: { index: cut, term: entries[cut - 1]?.term ?? 0, membership: NO_MEMBERS },
        data: leader.machine.snapshot(),
      };
      // The follower went its own way before (a different history), then installs it.
      const follower = node("b");
      for (const e of logOf(otherHistory)) follower.machine.apply(e);
      follower.machine.restore(snapshot);
      assert.equal(follower.machine.appliedIndex(), cut);
      assert.deepEqual(digest(follower.broker.metadata), digest(leader.broker.metadata));
      assertLiveMirrorsState(follower.broker);
      for (const e of entries.slice(cut)) {
        assert.equal(said(follower.machine.apply(e)), said(leader.machine.apply(e)));
      }
      assert.deepEqual(digest(follower.broker.metadata), digest(leader.broker.metadata));
      assertLiveMirrorsState(follower.broker);
    }),
    { numRuns: 150 },
  );
});

test("restoring a snapshot keeps the queue objects it holds unchanged (their messages and consumers stay) and drops the rest", () => {
  const a = node("a");
  const entries = logOf([
    {
      type: "queue.declare",
      vhost: "/",
      queue: "kept",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    },
    {
      type: "queue.declare",
      vhost: "/",
      queue: "gone",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    },
  ]);
  for (const e of entries) a.machine.apply(e);
  const kept = a.broker.vhosts.get("/")!.queues.get("kept")!;
  const gone = a.broker.vhosts.get("/")!.queues.get("gone")!;
  // The image another node took: "kept" as it is, "gone" deleted.
  const b = node("b");
  for (const e of entries) b.machine.apply(e);
  b.machine.apply({
    index: entries.length + 1,
    term: 9,
    kind: "command",
    data: encodeCommand({ type: "queue.delete", vhost: "/", queue: "gone" }),
  });
  const image: Snapshot = {
    meta: { index: entries.length + 1, term: 9, membership: NO_MEMBERS },
    data: b.machine.snapshot(),
  };
  a.broker.vhosts.get("/")!.exchanges.get("")!; // the default exchange is there
  a.machine.restore(image);
  assert.equal(a.broker.vhosts.get("/")!.queues.get("kept"), kept, "the same queue object");
  assert.equal(a.broker.vhosts.get("/")!.queues.has("gone"), false);
  assert.notEqual(gone, undefined);
  assert.deepEqual(digest(a.broker.metadata), digest(b.broker.metadata));
  assertLiveMirrorsState(a.broker);
});

test("a malformed entry is refused alike on every node and changes nothing", () => {
  const a = node("a");
  for (const e of logOf([])) a.machine.apply(e);
  const before = JSON.stringify(digest(a.broker.metadata));
  for (const bytes of ["not json", "[1,2]", "null", '{"type":"__proto__"}', '{"no":"type"}']) {
    const reply = a.machine.apply({
      index: a.machine.appliedIndex() + 1,
      term: 5,
      kind: "command",
      data: new TextEncoder().encode(bytes),
    });
    assert.equal(reply.ok, false, bytes);
    assert.equal(!reply.ok && reply.refusal.kind, "command");
  }
  assert.equal(JSON.stringify(digest(a.broker.metadata)), before);
});

test("a refusal travels as data and comes back as the error a single node throws", () => {
  const a = node("a");
  for (const e of logOf([
    {
      type: "queue.declare",
      vhost: "/",
      queue: "q",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    },
  ]))
    a.machine.apply(e);
  const reply = a.machine.apply({
    index: a.machine.appliedIndex() + 1,
    term: 5,
    kind: "command",
    data: encodeCommand({
      type: "queue.declare",
      vhost: "/",
      queue: "q",
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      client: {},
    }),
  });
  assert.ok(!reply.ok);
  assert.deepEqual(JSON.parse(JSON.stringify(reply.refusal)), reply.refusal);
  assert.equal(reply.refusal.kind, "amqp");
  // The single node's answer to the same declaration.
  const single = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  single.bootstrapDefaults();
  single.submitNow({
    type: "queue.declare",
    vhost: "/",
    queue: "q",
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: {},
  });
  assert.throws(
    () =>
      single.submitNow({
        type: "queue.declare",
        vhost: "/",
        queue: "q",
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: {},
        client: {},
      }),
    (e: unknown) =>
      e instanceof AmqpError &&
      reply.refusal.kind === "amqp" &&
      e.replyCode === reply.refusal.replyCode &&
      e.replyText === reply.refusal.replyText,
  );
});

test("a binding whose queue the snapshot replaced (same name, new id) is rebuilt to the new queue", () => {
  const declare: MetadataCommand = {
    type: "queue.declare",
    vhost: "/",
    queue: "q",
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: {},
  };
  const bind: MetadataCommand = {
    type: "binding.add",
    vhost: "/",
    source: "amq.direct",
    destinationKind: "queue",
    destination: "q",
    routingKey: "k",
    arguments: {},
  };
  const follower = node("b");
  for (const e of logOf([declare, bind])) follower.machine.apply(e);
  const leader = node("a");
  const entries = logOf([
    declare,
    bind,
    { type: "queue.delete", vhost: "/", queue: "q" },
    declare,
    bind,
  ]);
  for (const e of entries) leader.machine.apply(e);
  follower.machine.restore({
    meta: { index: entries.length, term: 3, membership: NO_MEMBERS },
    data: leader.machine.snapshot(),
  });
  assert.deepEqual(digest(follower.broker.metadata), digest(leader.broker.metadata));
  assertLiveMirrorsState(follower.broker);
  const vhost = follower.broker.vhosts.get("/")!;
  assert.equal(vhost.bindingsOf(vhost.queues.get("q")!).length, 1);
});

test("a new group's empty snapshot does not overwrite the node's definitions.json; a later snapshot is exported", async () => {
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    await broker.definitionsSaved();
  };
  const saved: unknown[] = [];
  const broker = new Broker({ ...DEFAULT_SETTINGS, nodeName: "a" }, silentLog, systemSources, {
    store: undefined as never,
    saveDefinitions: (snapshot) => {
      saved.push(snapshot);
    },
    schedule: (fn) => fn(),
  });
  broker.bootstrapDefaults();
  await settle();
  const before = saved.length;
  assert.ok(before > 0, "the single node saved its definitions");
  const machine = new MetadataMachine(broker.metadataReplica());
  machine.restore(emptySnapshot);
  await settle();
  assert.equal(saved.length, before, "the empty state was not saved");
  assert.equal(broker.metadata.vhosts.size, 0, "the local definitions gave way to the group's");
  const other = node("b");
  for (const e of logOf([])) other.machine.apply(e);
  machine.restore({
    meta: { index: 3, term: 1, membership: NO_MEMBERS },
    data: other.machine.snapshot(),
  });
  await settle();
  assert.ok(saved.length > before, "the group's state is exported");
});
