import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelayMs } from "../../../../src/cluster/transport/backoff.js";
import { LogLimiter } from "../../../../src/cluster/transport/log-limiter.js";

test("the redial delay doubles from 100 ms to a 5 s cap, jittered between half and all of the step", () => {
  const options = { initialMs: 100, maxMs: 5_000 };
  const steps = [1, 2, 3, 4, 5, 6, 7, 20, 1_000].map((n) => backoffDelayMs(options, n, 1));
  assert.deepEqual(steps, [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
  assert.equal(backoffDelayMs(options, 3, 0), 200);
  assert.equal(backoffDelayMs(options, 3, 0.5), 300);
});

test("a repeated line is logged once per interval, then with the count of the ones it held back", () => {
  const limiter = new LogLimiter(60_000);
  assert.deepEqual(limiter.admit("bad secret 10.0.0.2", 0), { suppressed: 0 });
  for (let t = 1; t < 50; t++) assert.equal(limiter.admit("bad secret 10.0.0.2", t * 1_000), null);
  assert.deepEqual(limiter.admit("bad secret 10.0.0.3", 1_000), { suppressed: 0 });
  assert.deepEqual(limiter.admit("bad secret 10.0.0.2", 60_000), { suppressed: 49 });
  assert.equal(limiter.admit("bad secret 10.0.0.2", 60_001), null);
});

test("the log limiter remembers a bounded number of keys", () => {
  const limiter = new LogLimiter(60_000, 3);
  for (const key of ["a", "b", "c", "d"]) limiter.admit(key, 0);
  // "a" was forgotten to make room for "d", so it is logged again at once.
  assert.notEqual(limiter.admit("a", 1), null);
  assert.equal(limiter.admit("d", 1), null);
});
