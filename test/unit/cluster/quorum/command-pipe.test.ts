import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CommandPipe } from "../../../../src/cluster/quorum/command-pipe.js";
import type { ProposeAnswer } from "../../../../src/cluster/quorum/quorum-wire.js";

interface Sent {
  readonly to: string;
  readonly command: number;
  readonly answer: (a: ProposeAnswer) => void;
}

const APPLIED: ProposeAnswer = { status: "applied", reply: { type: "done" } };

/** A pipe whose sends the test answers by hand; timers run when the test says. */
function harness(maxInFlight?: number) {
  const sent: Sent[] = [];
  let leader = "a";
  let now = 0;
  const timers: (() => void)[] = [];
  const pipe = new CommandPipe({
    send: (to, command) =>
      new Promise((resolve) => sent.push({ to, command: command[0]!, answer: resolve })),
    target: () => leader,
    notLeader: (_node, hint) => {
      if (hint !== null) leader = hint;
    },
    clock: () => now,
    setTimer: (fn) => {
      timers.push(fn);
      return { cancel: () => {} };
    },
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
  });
  const submit = (n: number, timeoutMs = 1_000) => pipe.submit(new Uint8Array([n]), timeoutMs);
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    pipe,
    sent,
    submit,
    settle,
    setLeader: (l: string) => {
      leader = l;
    },
    advance: (ms: number) => {
      now += ms;
    },
    runTimers: () => {
      for (const t of timers.splice(0)) t();
    },
  };
}

describe("CommandPipe", () => {
  test("sends commands in order and resolves each when applied, in any order", async () => {
    const h = harness();
    const results = [h.submit(1), h.submit(2), h.submit(3)];
    assert.deepEqual(
      h.sent.map((s) => s.command),
      [1, 2, 3],
    );
    h.sent[2]!.answer(APPLIED);
    h.sent[0]!.answer(APPLIED);
    h.sent[1]!.answer(APPLIED);
    assert.deepEqual(await Promise.all(results), [APPLIED, APPLIED, APPLIED]);
    assert.equal(h.pipe.pending, 0);
  });

  test("a not-leader answer sends every unanswered command again, in order, to the leader named", async () => {
    const h = harness();
    const results = [h.submit(1), h.submit(2), h.submit(3)];
    h.sent[0]!.answer(APPLIED);
    h.sent[1]!.answer({ status: "not-leader", leader: "b" });
    await h.settle();
    const again = h.sent.slice(3);
    assert.deepEqual(
      again.map((s) => [s.to, s.command]),
      [
        ["b", 2],
        ["b", 3],
      ],
    );
    // The old round's late answer for 3 says nothing; the new round's answers count.
    h.sent[2]!.answer({ status: "failed", detail: "link lost" });
    await h.settle();
    assert.equal(h.sent.length, 5, "a stale failure does not start another round");
    again[0]!.answer(APPLIED);
    again[1]!.answer(APPLIED);
    assert.deepEqual(await Promise.all(results), [APPLIED, APPLIED, APPLIED]);
  });

  test("an applied answer from an earlier round still counts (the command was applied)", async () => {
    const h = harness();
    const result = h.submit(7);
    h.pipe.resend();
    assert.equal(h.sent.length, 2);
    h.sent[0]!.answer(APPLIED);
    assert.deepEqual(await result, APPLIED);
    assert.equal(h.pipe.pending, 0);
  });

  test("with no leader known it waits and tries again on its timer", async () => {
    const h = harness();
    h.setLeader(undefined as unknown as string);
    const result = h.submit(1);
    assert.equal(h.sent.length, 0);
    h.setLeader("c");
    h.runTimers();
    assert.deepEqual(
      h.sent.map((s) => [s.to, s.command]),
      [["c", 1]],
    );
    h.sent[0]!.answer(APPLIED);
    assert.deepEqual(await result, APPLIED);
  });

  test("keeps at most maxInFlight commands unanswered and sends the rest as answers come", async () => {
    const h = harness(2);
    const results = [1, 2, 3, 4].map((n) => h.submit(n));
    assert.deepEqual(
      h.sent.map((s) => s.command),
      [1, 2],
    );
    h.sent[0]!.answer(APPLIED);
    await h.settle();
    assert.deepEqual(
      h.sent.map((s) => s.command),
      [1, 2, 3],
    );
    h.sent[1]!.answer(APPLIED);
    await h.settle();
    h.sent[2]!.answer(APPLIED);
    await h.settle();
    h.sent[3]!.answer(APPLIED);
    assert.equal((await Promise.all(results)).length, 4);
  });

  test("a command not applied by its deadline fails; close fails the rest", async () => {
    const h = harness();
    const late = h.submit(1, 100);
    const other = h.submit(2, 10_000);
    h.advance(101);
    h.pipe.expire(101);
    assert.equal((await late).status, "failed");
    h.pipe.close("deleted");
    assert.deepEqual(await other, { status: "failed", detail: "deleted" });
    assert.equal((await h.pipe.submit(new Uint8Array([3]), 10)).status, "failed");
  });
});
