import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { messagesDue, msUntilNextDue, share } from "../../../src/perf/pacing.js";

test("at 2,000 msg/s, 10 ms into the run 20 messages are due", () => {
  assert.equal(messagesDue(2000, 10, 0, 1000), 20);
  assert.equal(messagesDue(2000, 10, 15, 1000), 5);
  assert.equal(messagesDue(2000, 10, 20, 1000), 0);
});

test("a publisher ahead of its schedule has nothing due", () => {
  assert.equal(messagesDue(100, 1000, 150, 1000), 0);
});

test("a publisher far behind catches up in bursts no larger than the limit", () => {
  assert.equal(messagesDue(10_000, 5000, 0, 200), 200);
});

test("rate 0 means as fast as the burst limit allows", () => {
  assert.equal(messagesDue(0, 0, 1_000_000, 200), 200);
});

test("the next message is due after the gap the rate implies", () => {
  assert.equal(msUntilNextDue(1000, 0, 0), 1);
  assert.equal(msUntilNextDue(100, 0, 0), 10);
  assert.equal(msUntilNextDue(100, 5, 0), 5);
  assert.equal(msUntilNextDue(100, 50, 0), 1); // overdue: at least 1 ms
});

test("shares of a total add up to the total and differ by at most one", () => {
  fc.assert(
    fc.property(fc.nat(1_000_000), fc.integer({ min: 1, max: 100 }), (total, n) => {
      const shares = Array.from({ length: n }, (_, i) => share(total, n, i));
      assert.equal(
        shares.reduce((a, b) => a + b, 0),
        total,
      );
      assert.ok(Math.max(...shares) - Math.min(...shares) <= 1);
    }),
  );
});
