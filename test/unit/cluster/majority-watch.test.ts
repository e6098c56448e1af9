import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MajorityWatch } from "../../../src/cluster/majority-watch.js";

test("a majority lost for longer than the election timeout pauses the node once; seeing one resumes it", () => {
  const watch = new MajorityWatch(3000);
  assert.equal(watch.observe(0, true), undefined);
  assert.equal(watch.observe(1000, false), undefined);
  assert.equal(watch.observe(4000, false), undefined, "exactly the timeout is not longer");
  assert.deepEqual(watch.observe(4001, false), { kind: "pause", lostForMs: 3001 });
  assert.equal(watch.paused, true);
  assert.equal(watch.observe(9000, false), undefined, "paused once, not again");
  assert.deepEqual(watch.observe(12_001, true), { kind: "resume", pausedForMs: 8000 });
  assert.equal(watch.paused, false);
  assert.equal(watch.observe(12_002, true), undefined);
});

test("a majority lost for a moment, again and again, never pauses the node", () => {
  const watch = new MajorityWatch(3000);
  for (let t = 0; t < 60_000; t += 1000) {
    assert.equal(watch.observe(t, t % 3000 !== 0), undefined, `at ${t} ms`);
  }
  assert.equal(watch.paused, false);
});

test("pause and resume alternate, and the node is paused exactly when no majority was seen for over the timeout", () => {
  const steps = fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.boolean()), {
    maxLength: 200,
  });
  fc.assert(
    fc.property(steps, (list) => {
      const watch = new MajorityWatch(3000);
      let now = 0;
      let lostSince: number | undefined;
      let last: string | undefined;
      for (const [advance, sees] of list) {
        now += advance;
        const t = watch.observe(now, sees);
        if (t) {
          assert.notEqual(t.kind, last, "two pauses or two resumes in a row");
          last = t.kind;
        }
        lostSince = sees ? undefined : (lostSince ?? now);
        const shouldPause = lostSince !== undefined && now - lostSince > 3000;
        if (sees) assert.equal(watch.paused, false);
        else if (shouldPause) assert.equal(watch.paused, true);
      }
    }),
  );
});
