import assert from "node:assert/strict";
import { test } from "node:test";
import type { Frame } from "../../../../src/cluster/transport/frame-codec.js";
import { FrameType } from "../../../../src/cluster/transport/frame-codec.js";
import type {
  HandshakeConfig,
  HandshakeOutcome,
  OutFrame,
} from "../../../../src/cluster/transport/handshake-machine.js";
import { HandshakeMachine } from "../../../../src/cluster/transport/handshake-machine.js";
import { seededRandom } from "./transport-fixtures.js";

const random = seededRandom(7);
const secret = (text: string) => new TextEncoder().encode(text);

function dialer(overrides: Partial<HandshakeConfig> = {}): HandshakeMachine {
  return new HandshakeMachine({
    role: "dialer",
    localName: "warren@a",
    secret: secret("cookie"),
    nonce: random.bytes(32),
    expectedPeer: "warren@b",
    ...overrides,
  });
}

function listener(overrides: Partial<HandshakeConfig> = {}): HandshakeMachine {
  return new HandshakeMachine({
    role: "listener",
    localName: "warren@b",
    secret: secret("cookie"),
    nonce: random.bytes(32),
    acceptsPeer: (name) => name === "warren@a" || name === "warren@c",
    ...overrides,
  });
}

interface Run {
  readonly dialer: HandshakeOutcome | null;
  readonly listener: HandshakeOutcome | null;
  /** Every frame that crossed, either way. */
  readonly wire: OutFrame[];
}

/** Both sides send their hello, then frames cross in lockstep until nothing moves. */
function run(a: HandshakeMachine, b: HandshakeMachine): Run {
  const wire: OutFrame[] = [];
  let toB: OutFrame[] = a.start();
  let toA: OutFrame[] = b.start();
  let outcomeA: HandshakeOutcome | null = null;
  let outcomeB: HandshakeOutcome | null = null;
  for (let round = 0; round < 10 && (toA.length > 0 || toB.length > 0); round++) {
    wire.push(...toA, ...toB);
    const nextToA: OutFrame[] = [];
    const nextToB: OutFrame[] = [];
    for (const frame of toB) {
      const step = b.receive(frame as Frame);
      nextToA.push(...step.send);
      outcomeB ??= step.outcome;
    }
    for (const frame of toA) {
      const step = a.receive(frame as Frame);
      nextToB.push(...step.send);
      outcomeA ??= step.outcome;
    }
    toA = nextToA;
    toB = nextToB;
  }
  return { dialer: outcomeA, listener: outcomeB, wire };
}

test("two nodes with the same secret prove it to each other and learn each other's names", () => {
  const result = run(dialer(), listener());
  assert.deepEqual(result.dialer, { ok: true, peer: "warren@b" });
  assert.deepEqual(result.listener, { ok: true, peer: "warren@a" });
});

test("the secret itself never crosses the wire", () => {
  const cookie = "a-very-recognisable-cookie";
  const result = run(dialer({ secret: secret(cookie) }), listener({ secret: secret(cookie) }));
  assert.equal(result.dialer?.ok, true);
  const wire = Buffer.concat(result.wire.map((f) => f.payload));
  assert.equal(wire.includes(Buffer.from(cookie)), false);
});

test("a wrong secret is refused by both sides", () => {
  const result = run(dialer({ secret: secret("other cookie") }), listener());
  assert.equal(result.dialer?.ok, false);
  assert.equal(result.listener?.ok, false);
  const reasons = [result.dialer, result.listener].map((o) => (o?.ok === false ? o.reason : null));
  // Each side checks the other's proof: both find it wrong (or hear the other's refusal first).
  assert.ok(reasons.includes("badSecret"));
  for (const reason of reasons) assert.ok(reason === "badSecret" || reason === "refusedByPeer");
  assert.ok(result.wire.some((f) => f.type === FrameType.refuse));
});

test("a listener refuses a node name it does not know", () => {
  const result = run(dialer({ localName: "warren@stranger" }), listener());
  assert.equal(result.listener?.ok === false && result.listener.reason, "unexpectedPeer");
  assert.equal(result.dialer?.ok === false && result.dialer.reason, "refusedByPeer");
  assert.match((result.dialer as { detail: string }).detail, /does not expect this node name/);
});

test("a dialer refuses a listener that is not the node it dialled", () => {
  const result = run(dialer({ expectedPeer: "warren@c" }), listener());
  assert.equal(result.dialer?.ok === false && result.dialer.reason, "unexpectedPeer");
  assert.match(
    (result.dialer as { detail: string }).detail,
    /calls itself warren@b.*dialled it as warren@c/,
  );
});

test("a node that reaches itself refuses the connection", () => {
  const result = run(dialer({ localName: "warren@b", expectedPeer: "warren@b" }), listener());
  assert.equal(result.dialer?.ok, false);
  assert.equal(result.listener?.ok, false);
});

test("different protocol versions are refused with both versions named", () => {
  const result = run(dialer({ version: 2 }), listener());
  assert.equal(result.listener?.ok === false && result.listener.reason, "versionMismatch");
  assert.match((result.listener as { detail: string }).detail, /version 2, this node 1/);
});

test("a proof reflected back to its sender is refused: it covers the prover's role", () => {
  const a = dialer();
  const helloFromB = listener().start()[0]!;
  a.start();
  const aProof = a.receive(helloFromB as Frame).send[0]!;
  const step = a.receive(aProof as Frame);
  assert.equal(step.outcome?.ok === false && step.outcome.reason, "badSecret");
});

test("a proof recorded from an earlier connection does not open a new one: it covers both nonces", () => {
  const first = listener();
  const a1 = dialer();
  const hello1 = first.start()[0]!;
  a1.start();
  a1.receive(hello1 as Frame);
  const recordedListenerProof = first.receive(a1.start()[0] as Frame).send[0]!;
  // A new dialer (fresh nonce) is shown the recorded hello and proof.
  const a2 = dialer();
  a2.start();
  a2.receive(hello1 as Frame);
  const step = a2.receive(recordedListenerProof as Frame);
  assert.equal(step.outcome?.ok === false && step.outcome.reason, "badSecret");
});

test("frames out of order or malformed end the handshake as a protocol error", () => {
  const proofFirst = listener();
  proofFirst.start();
  const step = proofFirst.receive({ type: FrameType.proof, payload: Buffer.alloc(32) });
  assert.equal(step.outcome?.ok === false && step.outcome.reason, "protocolError");

  const badHello = listener();
  badHello.start();
  const step2 = badHello.receive({ type: FrameType.hello, payload: Buffer.from("garbage") });
  assert.equal(step2.outcome?.ok === false && step2.outcome.reason, "protocolError");
  assert.equal(step2.send[0]?.type, FrameType.refuse);

  const raftTooEarly = listener();
  raftTooEarly.start();
  const step3 = raftTooEarly.receive({ type: FrameType.raftBatch, payload: Buffer.alloc(4) });
  assert.equal(step3.outcome?.ok === false && step3.outcome.reason, "protocolError");
});
