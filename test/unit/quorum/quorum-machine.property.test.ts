import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  decodeQuorumCommand,
  encodeQuorumCommand,
  type QuorumCommand,
  type QuorumConfig,
} from "../../../src/quorum/quorum-commands.js";
import {
  type QuorumApplyResult,
  QuorumMachine,
  type QuorumReply,
} from "../../../src/quorum/quorum-machine.js";
import { decodeQuorumSnapshot, encodeQuorumSnapshot } from "../../../src/quorum/quorum-snapshot.js";
import { type ModelDelivery, type ModelOutcome, QuorumModel } from "./quorum-machine-model.js";

// ------------------------------------------------------------------ the actions

const NODES = ["n1", "n2", "n3"];
const CONSUMERS = [
  { key: "c0", node: "n1" },
  { key: "c1", node: "n2" },
  { key: "c2", node: "n1" },
  { key: "c3", node: "n3" },
];
const GETTERS = [
  { key: "get@n1", node: "n1" },
  { key: "get@n2", node: "n2" },
];
const HOLDERS = [...CONSUMERS, ...GETTERS];
const PUBLISHERS = [
  { key: "p0", node: "n1" },
  { key: "p1", node: "n2" },
  { key: "p2", node: "n3" },
];

/** An action names things by small numbers; `concretize` turns it into a command. */
type Action =
  | {
      kind: "publish";
      publisher: number;
      seq: "none" | "next" | "same" | "older";
      high: boolean;
      size: number;
      expiresIn: number | null;
    }
  | { kind: "checkout"; consumer: number; window: number; priority: number }
  | { kind: "cancel" | "remove"; consumer: number }
  | {
      kind: "settle" | "return" | "discard" | "release";
      holder: number;
      picks: number[];
      bogus: boolean;
    }
  | { kind: "node-down"; node: number }
  | { kind: "dequeue"; getter: number; noAck: boolean }
  | { kind: "purge" | "expire" }
  | { kind: "config"; config: QuorumConfig }
  | { kind: "dlx-settle"; picks: number[] };

interface Step {
  action: Action;
  /** Clock advance before this step. */
  advance: number;
  /** A proposer whose clock is behind. */
  skew: number;
}

/** `arb` with probability 1/`oneIn`, undefined otherwise. */
function sometimes<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: oneIn - 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arb },
  );
}

/** Time moves in steps of 10 ms so that expiries often fall exactly on "now". */
const tens = (min: number, max: number) =>
  fc.integer({ min: min / 10, max: max / 10 }).map((n) => n * 10);

const configArb: fc.Arbitrary<QuorumConfig> = fc.record({
  deliveryLimit: fc.integer({ min: -1, max: 3 }),
  maxLength: sometimes(fc.integer({ min: 0, max: 8 }), 3),
  maxLengthBytes: sometimes(fc.integer({ min: 0, max: 60 }), 4),
  overflow: fc.constantFrom("drop-head" as const, "reject-publish" as const),
  messageTtlMs: sometimes(tens(0, 200), 3),
  singleActiveConsumer: fc.boolean(),
  deadLetter: fc.boolean(),
  deadLetterStrategy: fc.constantFrom("at-most-once" as const, "at-least-once" as const),
});

const picks = fc.array(fc.nat(20), { minLength: 1, maxLength: 3 });

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("publish" as const),
      publisher: fc.integer({ min: 0, max: PUBLISHERS.length - 1 }),
      seq: fc.constantFrom(
        "none" as const,
        "next" as const,
        "next" as const,
        "same" as const,
        "older" as const,
      ),
      high: fc.boolean(),
      size: fc.integer({ min: 0, max: 12 }),
      expiresIn: fc.option(tens(-20, 200), { nil: null, freq: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("checkout" as const),
      consumer: fc.integer({ min: 0, max: CONSUMERS.length - 1 }),
      window: fc.integer({ min: 0, max: 4 }),
      priority: fc.integer({ min: -1, max: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("cancel" as const, "remove" as const),
      consumer: fc.integer({ min: 0, max: CONSUMERS.length - 1 }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "settle" as const,
        "settle" as const,
        "return" as const,
        "discard" as const,
        "release" as const,
      ),
      holder: fc.integer({ min: 0, max: HOLDERS.length - 1 }),
      picks,
      bogus: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("node-down" as const),
      node: fc.integer({ min: 0, max: NODES.length - 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("dequeue" as const),
      getter: fc.integer({ min: 0, max: GETTERS.length - 1 }),
      noAck: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("purge" as const, "expire" as const, "expire" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("config" as const), config: configArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("dlx-settle" as const), picks }) },
);

const stepArb: fc.Arbitrary<Step> = fc.record({
  action: actionArb,
  advance: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, tens(10, 60)),
  skew: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, tens(10, 30)),
});

const scenarioArb = fc.record({
  config: configArb,
  steps: fc.array(stepArb, { minLength: 1, maxLength: 120, size: "max" }),
});

/** Turns actions into commands, choosing ids from what the model says is held or pending. */
class Concretizer {
  clock = 1_000;
  private seqs = new Map<string, number>();

  command(step: Step, model: QuorumModel): QuorumCommand {
    this.clock += step.advance;
    const nowMs = Math.max(0, this.clock - step.skew);
    const a = step.action;
    switch (a.kind) {
      case "publish": {
        const p = PUBLISHERS[a.publisher]!;
        const last = this.seqs.get(p.key) ?? 0;
        let seq = 0;
        if (a.seq === "next") seq = last + 1;
        else if (a.seq === "same") seq = last;
        else if (a.seq === "older") seq = Math.max(0, last - 1);
        if (seq > last) this.seqs.set(p.key, seq);
        return {
          type: "enqueue",
          publisher: p.key,
          node: p.node,
          seq,
          nowMs,
          expiresAtMs: a.expiresIn === null ? 0 : Math.max(1, nowMs + a.expiresIn),
          high: a.high,
          size: a.size,
          payload: Uint8Array.of(a.size, a.high ? 1 : 0, seq & 0xff),
        };
      }
      case "checkout": {
        const c = CONSUMERS[a.consumer]!;
        return {
          type: "checkout",
          consumer: c.key,
          node: c.node,
          tag: `t${c.key}`,
          window: a.window,
          priority: a.priority,
          nowMs,
        };
      }
      case "cancel":
      case "remove":
        return { type: a.kind, consumer: CONSUMERS[a.consumer]!.key, nowMs };
      case "settle":
      case "return":
      case "discard":
      case "release": {
        // Mostly a holder that holds something, so that settles have something to settle.
        const holding = HOLDERS.filter((x) => (model.consumer(x.key)?.held.length ?? 0) > 0);
        const h =
          holding.length > 0 && !a.bogus ? holding[a.holder % holding.length]! : HOLDERS[a.holder]!;
        const held = [...(model.consumer(h.key)?.held ?? [])].sort((x, y) => x - y);
        const ids = held.length === 0 ? [] : a.picks.map((i) => held[i % held.length]!);
        if (ids.length === 0) ids.push(9_999_999);
        return { type: a.kind, consumer: h.key, ids, nowMs };
      }
      case "node-down":
        return { type: "node-down", node: NODES[a.node]!, nowMs };
      case "dequeue": {
        const g = GETTERS[a.getter]!;
        return { type: "dequeue", consumer: g.key, node: g.node, noAck: a.noAck, nowMs };
      }
      case "purge":
      case "expire":
        return { type: a.kind, nowMs };
      case "config":
        return { type: "config", config: a.config, nowMs };
      case "dlx-settle": {
        const pending = model.dlxPending;
        const ids = pending.length === 0 ? [1] : a.picks.map((i) => pending[i % pending.length]!);
        return { type: "dlx-settle", ids, nowMs };
      }
    }
  }
}

// ------------------------------------------------------------------ comparing

function replyOf(reply: QuorumReply): ModelOutcome["reply"] {
  if (reply.type !== "dequeue") return reply;
  const d = reply.delivery;
  return {
    type: "dequeue",
    delivery: d === undefined ? undefined : [d.id, d.deliveryCount, d.redelivered, d.attempt],
    remaining: reply.remaining,
  };
}

function outcomeOf(result: QuorumApplyResult): ModelOutcome {
  const delivered = new Map<string, ModelDelivery[]>();
  const dead: ModelOutcome["dead"] = [];
  let atLeastOnce: boolean | undefined;
  for (const e of result.effects) {
    if (e.type === "deliver") {
      assert.equal(delivered.has(e.consumer), false, "one deliver effect per consumer and apply");
      delivered.set(
        e.consumer,
        e.deliveries.map((d) => [d.id, d.deliveryCount, d.redelivered, d.attempt]),
      );
    } else {
      assert.equal(atLeastOnce, undefined, "one dead-letter effect per apply");
      assert.ok(e.messages.length > 0, "no empty dead-letter effect");
      atLeastOnce = e.atLeastOnce;
      for (const m of e.messages) dead.push([m.id, m.reason, m.deliveryCount]);
    }
  }
  return { reply: replyOf(result.reply), delivered, dead, atLeastOnce: atLeastOnce ?? false };
}

function sortedMap<V>(m: Map<string, V>): [string, V][] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

function assertSameOutcome(got: ModelOutcome, want: ModelOutcome, where: string): void {
  assert.deepEqual(got.reply, want.reply, `${where}: reply`);
  assert.deepEqual(sortedMap(got.delivered), sortedMap(want.delivered), `${where}: deliveries`);
  assert.deepEqual(got.dead, want.dead, `${where}: dead-letters`);
  if (want.dead.length > 0) assert.equal(got.atLeastOnce, want.atLeastOnce, `${where}: strategy`);
}

function assertSameState(m: QuorumMachine, model: QuorumModel, where: string): void {
  const ids = (line: { toArray(): { id: number }[] }) => line.toArray().map((x) => x.id);
  assert.deepEqual(ids(m.returns), model.returns, `${where}: returned line`);
  assert.deepEqual(ids(m.high), model.high, `${where}: high line`);
  assert.deepEqual(ids(m.normal), model.normal, `${where}: normal line`);
  assert.equal(m.readyCount, model.readyCount, `${where}: ready count`);
  assert.equal(m.nowMs, model.now, `${where}: clock`);
  const consumers = [...m.consumers.values()].map((c) => ({
    key: c.key,
    node: c.node,
    window: c.window,
    priority: c.priority,
    cancelled: c.cancelled,
    getter: c.getter,
    held: [...c.checkedOut.keys()].sort((a, b) => a - b),
  }));
  const expected = model.consumers.map((c) => ({
    key: c.key,
    node: c.node,
    window: c.window,
    priority: c.priority,
    cancelled: c.cancelled,
    getter: c.getter,
    held: [...c.held].sort((a, b) => a - b),
  }));
  assert.deepEqual(consumers, expected, `${where}: consumers`);
  assert.deepEqual(sortedMap(m.publishers), sortedMap(model.publishers), `${where}: publishers`);
  assert.deepEqual([...m.dlxPending.keys()], model.dlxPending, `${where}: dlx pending`);
  assert.deepEqual(
    [...m.messages.keys()].sort((a, b) => a - b),
    [...model.messages.keys()].sort((a, b) => a - b),
    `${where}: messages`,
  );
  for (const [id, message] of m.messages) {
    const mm = model.messages.get(id)!;
    assert.equal(message.deliveryCount, mm.deliveryCount, `${where}: delivery count of ${id}`);
    assert.equal(message.expiresAtMs, mm.expiresAt, `${where}: expiry of ${id}`);
    assert.deepEqual([...message.payload], [...mm.payload], `${where}: payload of ${id}`);
  }
}

/** What must hold of the machine alone, whatever the rules. */
function assertInvariants(m: QuorumMachine, result: QuorumApplyResult, where: string): void {
  const places = new Map<number, string>();
  const place = (id: number, where2: string) => {
    assert.equal(
      places.get(id),
      undefined,
      `${where}: message ${id} in ${places.get(id)} and ${where2}`,
    );
    places.set(id, where2);
  };
  let readyBytes = 0;
  for (const [name, line] of [
    ["returns", m.returns],
    ["high", m.high],
    ["normal", m.normal],
  ] as const) {
    for (const message of line.toArray()) {
      place(message.id, name);
      readyBytes += message.size;
      assert.equal(m.messages.get(message.id), message, `${where}: ready ${message.id} is known`);
      if (name !== "returns") assert.equal(message.high, name === "high", `${where}: class`);
    }
  }
  let heldCount = 0;
  let heldBytes = 0;
  for (const c of m.consumers.values()) {
    for (const [id, message] of c.checkedOut) {
      place(id, `consumer ${c.key}`);
      heldCount++;
      heldBytes += message.size;
      assert.equal(m.messages.get(id), message, `${where}: held ${id} is known`);
    }
    if (c.cancelled) assert.ok(c.checkedOut.size > 0, `${where}: idle cancelled ${c.key} kept`);
  }
  for (const id of m.dlxPending.keys()) {
    place(id, "dlx pending");
    assert.ok(m.messages.has(id), `${where}: pending ${id} is known`);
  }
  assert.deepEqual(
    [...places.keys()].sort((a, b) => a - b),
    [...m.messages.keys()].sort((a, b) => a - b),
    `${where}: every message is in exactly one place`,
  );
  assert.equal(m.readyBytes, readyBytes, `${where}: ready bytes`);
  assert.equal(m.checkedOutCount, heldCount, `${where}: held count`);
  assert.equal(m.checkedOutBytes, heldBytes, `${where}: held bytes`);
  for (const e of result.effects) {
    if (e.type !== "deliver") continue;
    const c = m.consumers.get(e.consumer);
    assert.ok(c !== undefined && !c.getter && !c.cancelled, `${where}: delivered to a live one`);
    assert.ok(c.checkedOut.size <= c.window, `${where}: ${c.key} over its window`);
    for (const d of e.deliveries) assert.ok(c.checkedOut.has(d.id), `${where}: ${d.id} held`);
  }
  let next = Number.POSITIVE_INFINITY;
  for (const line of [m.returns, m.high, m.normal])
    next = Math.min(next, line.peek()?.expiresAtMs ?? Number.POSITIVE_INFINITY);
  assert.equal(m.nextExpiryMs(), next, `${where}: next expiry`);
}

/** Every message handed out or dead-lettered carries the payload it was enqueued with. */
function assertPayloads(
  result: QuorumApplyResult,
  payloads: Map<number, Uint8Array>,
  where: string,
): void {
  const carried: { id: number; payload: Uint8Array }[] = [];
  for (const e of result.effects)
    carried.push(...(e.type === "deliver" ? e.deliveries : e.messages));
  if (result.reply.type === "dequeue" && result.reply.delivery !== undefined)
    carried.push(result.reply.delivery);
  for (const { id, payload } of carried)
    assert.deepEqual([...payload], [...payloads.get(id)!], `${where}: payload of ${id}`);
}

function describe(c: QuorumCommand): string {
  const { nowMs: _now, ...rest } = c;
  return JSON.stringify(rest, (k, v) => (k === "payload" ? undefined : v));
}

// ------------------------------------------------------------------ the properties

test("the machine behaves as the reference model on random command sequences", () => {
  fc.assert(
    fc.property(scenarioArb, ({ config, steps }) => {
      const machine = new QuorumMachine();
      const model = new QuorumModel();
      const concretizer = new Concretizer();
      const first: QuorumCommand = { type: "config", config, nowMs: concretizer.clock };
      let index = 1;
      assertSameOutcome(
        outcomeOf(machine.apply(index, first)),
        model.apply(index, first),
        "config",
      );
      const log: string[] = [];
      const payloads = new Map<number, Uint8Array>();
      for (const step of steps) {
        const command = concretizer.command(step, model);
        index++;
        log.push(`${index} ${describe(command)}`);
        const where = `after\n  ${log.slice(-6).join("\n  ")}\n `;
        if (command.type === "enqueue") payloads.set(index, command.payload);
        const result = machine.apply(index, command);
        assertPayloads(result, payloads, where);
        assertSameOutcome(outcomeOf(result), model.apply(index, command), where);
        assertInvariants(machine, result, where);
        assertSameState(machine, model, where);
      }
    }),
    { numRuns: 1200 },
  );
});

test("a machine restored from a snapshot at any point carries on the same", () => {
  fc.assert(
    fc.property(scenarioArb, fc.nat(), ({ config, steps }, cutSeed) => {
      const machine = new QuorumMachine();
      const model = new QuorumModel();
      const concretizer = new Concretizer();
      const first: QuorumCommand = { type: "config", config, nowMs: concretizer.clock };
      machine.apply(1, first);
      model.apply(1, first);
      const cut = cutSeed % (steps.length + 1);
      let restored: QuorumMachine | undefined;
      let index = 1;
      for (const [i, step] of steps.entries()) {
        if (i === cut) {
          const bytes = encodeQuorumSnapshot(machine);
          restored = decodeQuorumSnapshot(bytes);
          assert.deepEqual(Buffer.from(encodeQuorumSnapshot(restored)), Buffer.from(bytes));
        }
        const command = concretizer.command(step, model);
        index++;
        model.apply(index, command);
        const original = outcomeOf(machine.apply(index, command));
        if (restored === undefined) continue;
        const again = restored.apply(index, command);
        const where = `step ${i} (cut at ${cut}): ${describe(command)}`;
        assertSameOutcome(outcomeOf(again), original, where);
        assertInvariants(restored, again, where);
        assert.deepEqual(
          Buffer.from(encodeQuorumSnapshot(restored)),
          Buffer.from(encodeQuorumSnapshot(machine)),
          `${where}: same state`,
        );
        assert.deepEqual(restored.totals, machine.totals, `${where}: totals`);
      }
    }),
    { numRuns: 500 },
  );
});

const text = fc.string({ unit: "grapheme", maxLength: 12 });
const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const idList = fc.array(u64, { maxLength: 5 });
const anyConfig: fc.Arbitrary<QuorumConfig> = fc.record({
  deliveryLimit: fc.integer({ min: -1, max: 2 ** 40 }),
  maxLength: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  maxLengthBytes: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  overflow: fc.constantFrom(
    "drop-head" as const,
    "reject-publish" as const,
    "reject-publish-dlx" as const,
  ),
  messageTtlMs: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
  singleActiveConsumer: fc.boolean(),
  deadLetter: fc.boolean(),
  deadLetterStrategy: fc.constantFrom("at-most-once" as const, "at-least-once" as const),
});

const commandArb: fc.Arbitrary<QuorumCommand> = fc.oneof(
  fc.record({
    type: fc.constant("enqueue" as const),
    publisher: text,
    node: text,
    seq: u64,
    nowMs: u64,
    expiresAtMs: u64,
    high: fc.boolean(),
    size: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    payload: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({
    type: fc.constant("checkout" as const),
    consumer: text,
    node: text,
    tag: text,
    window: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    nowMs: u64,
  }),
  fc.record({
    type: fc.constantFrom("cancel" as const, "remove" as const),
    consumer: text,
    nowMs: u64,
  }),
  fc.record({
    type: fc.constantFrom(
      "settle" as const,
      "return" as const,
      "discard" as const,
      "release" as const,
    ),
    consumer: text,
    ids: idList,
    nowMs: u64,
  }),
  fc.record({ type: fc.constant("node-down" as const), node: text, nowMs: u64 }),
  fc.record({
    type: fc.constant("dequeue" as const),
    consumer: text,
    node: text,
    noAck: fc.boolean(),
    nowMs: u64,
  }),
  fc.record({ type: fc.constantFrom("purge" as const, "expire" as const), nowMs: u64 }),
  fc.record({ type: fc.constant("config" as const), config: anyConfig, nowMs: u64 }),
  fc.record({ type: fc.constant("dlx-settle" as const), ids: idList, nowMs: u64 }),
);

function plain(c: QuorumCommand): unknown {
  // Spread: fast-check's records have no prototype.
  if (c.type === "enqueue") return { ...c, payload: [...c.payload] };
  if (c.type === "config") return { ...c, config: { ...c.config } };
  return { ...c };
}

test("every command decodes to what was encoded", () => {
  fc.assert(
    fc.property(commandArb, (command) => {
      assert.deepEqual(plain(decodeQuorumCommand(encodeQuorumCommand(command))), plain(command));
    }),
    { numRuns: 2000 },
  );
});
