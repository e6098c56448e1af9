import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { silentLog } from "../../../src/log.js";
import { toTaggedJson } from "../../../src/protocol/field-table-json.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { applyCommand } from "../../../src/vhost/commands/apply-command.js";
import type { MetadataCommand } from "../../../src/vhost/commands/command-types.js";
import type { CommandOutcome, Effect } from "../../../src/vhost/commands/effects.js";
import {
  type MetadataState,
  newMetadataState,
} from "../../../src/vhost/commands/metadata-state.js";
import { buildSnapshot } from "../../../src/vhost/definitions.js";
import {
  BOOTSTRAP_COMMANDS,
  commandSequence,
  digest,
  durableDigest,
  metadataCommand,
} from "../../support/metadata-commands.js";

/** What an outcome says, as data: the answer, or the refusal's class and text. */
function answer(o: CommandOutcome<unknown>): unknown {
  return o.ok
    ? {
        ok: true,
        result: JSON.parse(JSON.stringify(o.result)),
        effects: o.effects.map((e) => e.kind),
      }
    : { ok: false, error: o.error.constructor.name, message: o.error.message, limit: o.limit };
}

function applyAll(state: MetadataState, commands: readonly MetadataCommand[]): unknown[] {
  return commands.map((c) => answer(applyCommand(state, c)));
}

/** A state with the default vhost and user, as a fresh node has. */
function bootstrapped(): MetadataState {
  const state = newMetadataState();
  applyAll(state, BOOTSTRAP_COMMANDS);
  return state;
}

const kinds = (o: CommandOutcome<unknown>) =>
  o.ok ? o.effects.map((e) => e.kind) : o.error.message;

test("the same commands give equal states and answers on two nodes, also after a trip through JSON", () => {
  fc.assert(
    fc.property(commandSequence, (commands) => {
      const here = bootstrapped();
      const there = bootstrapped();
      const answersHere = applyAll(here, commands);
      // The other node got each command as a log entry: JSON text.
      const answersThere = applyAll(
        there,
        commands.map((c) => JSON.parse(JSON.stringify(c)) as MetadataCommand),
      );
      assert.deepEqual(answersThere, answersHere);
      assert.deepEqual(digest(there), digest(here));
    }),
    { numRuns: 300 },
  );
});

test("a refused command changes nothing", () => {
  let refusals = 0;
  fc.assert(
    fc.property(commandSequence, metadataCommand, (before, command) => {
      const state = bootstrapped();
      applyAll(state, before);
      const was = JSON.stringify(digest(state));
      const outcome = applyCommand(state, command);
      if (outcome.ok) return;
      refusals++;
      assert.equal(
        JSON.stringify(digest(state)),
        was,
        `${command.type} refused but changed the state`,
      );
    }),
    { numRuns: 500 },
  );
  assert.ok(refusals > 50, `only ${refusals} refusals were tried`);
});

test("the definitions saved after any commands restore to the same durable state", () => {
  fc.assert(
    fc.property(commandSequence, (commands) => {
      const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
      broker.bootstrapDefaults();
      for (const c of commands) {
        try {
          broker.submitNow(c);
        } catch {
          // refused: nothing changed
        }
      }
      const snapshot = JSON.parse(JSON.stringify(buildSnapshot(broker))) as DefinitionsSnapshot;
      const restored = newMetadataState();
      const outcome = applyCommand(restored, { type: "definitions.restore", snapshot });
      assert.ok(outcome.ok, !outcome.ok ? outcome.error.message : "");
      const sorted = (d: unknown) => {
        const x = d as { vhosts: { bindings: unknown[] }[] };
        for (const v of x.vhosts) v.bindings = v.bindings.map((b) => JSON.stringify(b)).sort();
        return x;
      };
      assert.deepEqual(sorted(durableDigest(restored)), sorted(durableDigest(broker.metadata)));
    }),
    { numRuns: 200 },
  );
});

test("the live topology a node builds from the effects mirrors the definitions", () => {
  fc.assert(
    fc.property(commandSequence, (commands) => {
      const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
      broker.bootstrapDefaults();
      for (const c of commands) {
        try {
          broker.submitNow(c);
        } catch {
          // refused: nothing changed
        }
        assert.deepEqual([...broker.vhosts.keys()], [...broker.metadata.vhosts.keys()]);
        for (const [name, meta] of broker.metadata.vhosts) {
          const live = broker.vhosts.get(name)!;
          assert.equal(live.meta, meta);
          assert.deepEqual([...live.exchanges.keys()], [...meta.exchanges.keys()]);
          assert.deepEqual(
            [...live.queues.values()].map((q) => [q.name, q.storeId, q.isDurable]),
            [...meta.queues.values()].map((q) => [
              q.definition.name,
              q.id,
              q.definition.durable && !q.definition.exclusive,
            ]),
          );
          const row = (source: string, kind: string, dest: string, key: string, args: unknown) =>
            JSON.stringify([source, kind, dest, key, args]);
          assert.deepEqual(
            live
              .allBindings()
              .map((b) =>
                row(
                  b.source,
                  b.destination.kind,
                  b.destination.name,
                  b.routingKey,
                  toTaggedJson(b.arguments),
                ),
              )
              .sort(),
            meta.bindings
              .all()
              .map((b) =>
                row(
                  b.source,
                  b.destinationKind,
                  b.destination,
                  b.routingKey,
                  toTaggedJson(b.arguments),
                ),
              )
              .sort(),
          );
          for (const q of live.queues.values())
            assert.equal(
              live.bindingsOf(q).length,
              meta.bindings.toDestination("queue", q.name).length,
            );
        }
      }
    }),
    { numRuns: 200 },
  );
});

test("a durable queue's declare creates it and asks for one save, last; a transient one asks for none", () => {
  const state = bootstrapped();
  const declare = (queue: string, durable: boolean): MetadataCommand => ({
    type: "queue.declare",
    vhost: "/",
    queue,
    durable,
    exclusive: false,
    autoDelete: false,
    arguments: {},
    client: {},
  });
  assert.deepEqual(kinds(applyCommand(state, declare("d", true))), ["queue.create", "persist"]);
  assert.deepEqual(kinds(applyCommand(state, declare("t", false))), ["queue.create"]);
  assert.deepEqual(
    kinds(applyCommand(state, declare("d", true))),
    [],
    "a redeclaration changes nothing",
  );
  const ids = [...state.vhosts.get("/")!.queues.values()].map((q) => q.id);
  assert.deepEqual(ids, [1, 2], "queue ids come from the state, in order");
  assert.equal(state.nextQueueId, 3);
});

test("an exclusive queue belongs to its owner's key: another owner gets 405, and drop-owned removes it", () => {
  const state = bootstrapped();
  const declare = (owner: string | undefined): MetadataCommand => ({
    type: "queue.declare",
    vhost: "/",
    queue: "mine",
    durable: false,
    exclusive: true,
    autoDelete: false,
    arguments: {},
    client: owner === undefined ? {} : { owner },
  });
  assert.deepEqual(kinds(applyCommand(state, declare("node-a/1"))), ["queue.create"]);
  assert.equal(state.vhosts.get("/")!.queues.get("mine")!.owner, "node-a/1");
  assert.deepEqual(kinds(applyCommand(state, declare("node-a/1"))), []);
  for (const other of ["node-a/2", undefined]) {
    const refused = applyCommand(state, declare(other));
    assert.ok(!refused.ok);
    assert.match(
      refused.error.message,
      /^405 RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine'/,
    );
  }
  const bind = applyCommand(state, {
    type: "binding.add",
    vhost: "/",
    source: "amq.direct",
    destinationKind: "queue",
    destination: "mine",
    routingKey: "k",
    arguments: {},
    client: { owner: "node-a/2" },
  });
  assert.ok(!bind.ok && bind.error.message.startsWith("405"), "another connection may not bind it");
  assert.deepEqual(
    kinds(applyCommand(state, { type: "queues.drop-owned", vhost: "/", owner: "node-a/2" })),
    [],
  );
  assert.deepEqual(
    kinds(applyCommand(state, { type: "queues.drop-owned", vhost: "/", owner: "node-a/1" })),
    ["queue.drop"],
  );
  assert.equal(state.vhosts.get("/")!.queues.size, 0);
});

test("a queue delete naming an older queue's id leaves the newer queue of that name", () => {
  const state = bootstrapped();
  const declare: MetadataCommand = {
    type: "queue.declare",
    vhost: "/",
    queue: "q",
    durable: true,
    exclusive: false,
    autoDelete: true,
    arguments: {},
  };
  applyCommand(state, declare);
  applyCommand(state, { type: "queue.delete", vhost: "/", queue: "q" });
  applyCommand(state, declare);
  const stale = applyCommand(state, { type: "queue.delete", vhost: "/", queue: "q", id: 1 });
  assert.deepEqual(kinds(stale), []);
  assert.equal(state.vhosts.get("/")!.queues.get("q")!.id, 2);
});

test("the last binding of an auto-delete exchange going takes the exchange, its bindings first", () => {
  const state = bootstrapped();
  applyAll(state, [
    {
      type: "exchange.declare",
      vhost: "/",
      exchange: "fan",
      exchangeType: "fanout",
      durable: true,
      autoDelete: true,
      internal: false,
      arguments: {},
    },
    {
      type: "queue.declare",
      vhost: "/",
      queue: "q",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    },
    {
      type: "binding.add",
      vhost: "/",
      source: "fan",
      destinationKind: "queue",
      destination: "q",
      routingKey: "",
      arguments: {},
    },
    {
      type: "binding.add",
      vhost: "/",
      source: "amq.fanout",
      destinationKind: "exchange",
      destination: "fan",
      routingKey: "",
      arguments: {},
    },
  ]);
  const deleted = applyCommand(state, { type: "queue.delete", vhost: "/", queue: "q" });
  assert.ok(deleted.ok);
  const effects = deleted.effects as Effect[];
  assert.deepEqual(
    effects.map((e) =>
      e.kind === "binding.remove"
        ? `${e.kind} ${e.binding.source}->${e.binding.destination}`
        : e.kind,
    ),
    [
      "binding.remove fan->q",
      "binding.remove amq.fanout->fan",
      "exchange.drop",
      "queue.drop",
      "persist",
    ],
  );
  assert.equal(state.vhosts.get("/")!.exchanges.has("fan"), false);
  assert.equal(state.vhosts.get("/")!.bindings.all().length, 0);
});

test("deleting a vhost closes its connections first, drops its queues, its policies and permissions, and saves", () => {
  const state = bootstrapped();
  applyAll(state, [
    { type: "vhost.add", vhost: "gone" },
    {
      type: "permission.set",
      vhost: "gone",
      user: "guest",
      configure: ".*",
      write: ".*",
      read: ".*",
    },
    {
      type: "queue.declare",
      vhost: "gone",
      queue: "q",
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    },
    {
      type: "policy.set",
      kind: "policy",
      policy: {
        vhost: "gone",
        name: "p",
        pattern: ".*",
        applyTo: "queues",
        priority: 0,
        definition: { expires: 1000 },
      },
    },
  ]);
  const outcome = applyCommand(state, { type: "vhost.delete", vhost: "gone" });
  assert.deepEqual(kinds(outcome), [
    "connections.close",
    "queue.drop",
    "vhost.drop",
    "log",
    "persist",
  ]);
  const close = outcome.ok && outcome.effects[0];
  assert.deepEqual(close, {
    kind: "connections.close",
    vhost: "gone",
    code: 320,
    text: "CONNECTION_FORCED - vhost 'gone' is deleted",
  });
  assert.equal(state.vhosts.has("gone"), false);
  assert.equal(state.users.permissions.has("gone"), false);
  assert.deepEqual(state.policies.list("policy", "gone"), []);
});

test("a policy change asks the vhost's queues to take it up, logs it and saves", () => {
  const state = bootstrapped();
  const set = applyCommand(state, {
    type: "policy.set",
    kind: "policy",
    policy: {
      vhost: "/",
      name: "ha",
      pattern: ".*",
      applyTo: "queues",
      priority: 0,
      definition: { "ha-mode": "all", "message-ttl": 5 },
    },
  });
  assert.deepEqual(kinds(set), ["log", "policies.apply", "persist"]);
  assert.match(
    (set.ok && set.effects[0]?.kind === "log" && set.effects[0].text) || "",
    /policy 'ha' set in vhost '\/'; keys with no effect on classic queues: ha-mode/,
  );
  const bad = applyCommand(state, {
    type: "policy.set",
    kind: "operator_policy",
    policy: {
      vhost: "/",
      name: "op",
      pattern: ".*",
      applyTo: "queues",
      priority: 0,
      definition: { "dead-letter-exchange": "x" },
    },
  });
  assert.ok(!bad.ok);
  assert.match(
    bad.error.message,
    /^Validation failed: 'dead-letter-exchange' cannot be set by an operator policy/,
  );
  assert.deepEqual(
    kinds(applyCommand(state, { type: "policy.clear", kind: "policy", vhost: "/", name: "nope" })),
    [],
  );
});

test("a client's new queue over the vhost's max-queues is refused and names the limit; an import's is not", () => {
  const state = bootstrapped();
  applyCommand(state, { type: "vhost.set-limit", vhost: "/", limit: "max-queues", value: 0 });
  const declare = (client: boolean): MetadataCommand => ({
    type: "queue.declare",
    vhost: "/",
    queue: "q",
    durable: false,
    exclusive: false,
    autoDelete: false,
    arguments: {},
    ...(client ? { client: {} } : {}),
  });
  const refused = applyCommand(state, declare(true));
  assert.ok(!refused.ok);
  assert.equal(refused.limit, "vhost_queues");
  assert.equal(
    refused.error.message,
    "406 PRECONDITION_FAILED - cannot declare queue 'q': queue limit in vhost '/' (0) is reached",
  );
  assert.ok(applyCommand(state, declare(false)).ok);
});

test("an unknown command type is refused, also one named after an object's own properties", () => {
  const state = bootstrapped();
  for (const type of ["queue.explode", "constructor", "__proto__", "toString"]) {
    const outcome = applyCommand(state, { type } as unknown as MetadataCommand);
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.message, `unknown command '${type}'`);
  }
});

test("a deleted user takes its permissions and topic permissions with it: re-created, it has none", () => {
  const state = bootstrapped();
  applyAll(state, [
    { type: "user.put", user: "u1", passwordHash: "h", hashingAlgorithm: "x", tags: [] },
    { type: "permission.set", vhost: "/", user: "u1", configure: ".*", write: ".*", read: ".*" },
    {
      type: "topic-permission.set",
      vhost: "/",
      user: "u1",
      exchange: "amq.topic",
      write: "^a",
      read: ".*",
    },
    { type: "user.delete", user: "u1" },
    { type: "user.put", user: "u1", passwordHash: "h", hashingAlgorithm: "x", tags: [] },
  ]);
  assert.equal(state.users.permission("/", "u1"), undefined);
  assert.equal(state.users.topicPermission("/", "u1", "amq.topic"), undefined);
});

test("clearing the last permission of a vhost leaves no empty map, so nodes list permissions in one order", () => {
  // Replayed: "/" cleared then set again. Restored: a state that never had "/" then set it.
  const replayed = bootstrapped();
  applyAll(replayed, [
    { type: "vhost.add", vhost: "v1" },
    { type: "permission.set", vhost: "/", user: "guest", configure: ".*", write: ".*", read: ".*" },
    {
      type: "permission.set",
      vhost: "v1",
      user: "guest",
      configure: ".*",
      write: ".*",
      read: ".*",
    },
    { type: "permission.clear", vhost: "/", user: "guest" },
    {
      type: "topic-permission.set",
      vhost: "/",
      user: "guest",
      exchange: "x",
      write: ".*",
      read: ".*",
    },
    { type: "topic-permission.clear", vhost: "/", user: "guest", exchange: "x" },
  ]);
  assert.deepEqual([...replayed.users.permissions.keys()], ["v1"]);
  assert.deepEqual([...replayed.users.topicPermissions.keys()], []);
  applyAll(replayed, [
    { type: "permission.set", vhost: "/", user: "guest", configure: "^q", write: ".*", read: ".*" },
  ]);
  assert.deepEqual([...replayed.users.permissions.keys()], ["v1", "/"]);
});
