/**
 * The quorum queue simulation is sharp: the planted bug "confirm before commit"
 * (planted-bugs.ts) must be caught within a few seeds, and the seed that caught it passes
 * without it. The count it took is printed. A seed also replays exactly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { QUORUM_PLANTED_BUGS } from "./planted-bugs.js";
import { runQuorumSimulation } from "./quorum-queue-sim.js";

/** No planted bug may survive this many seeds (confirm-before-commit: caught in 2 of 3). */
const MAX_SEEDS_TO_CATCH = 50;

for (const bug of QUORUM_PLANTED_BUGS) {
  test(`quorum queue: ${bug.name} (${bug.rule}) is caught within ${MAX_SEEDS_TO_CATCH} seeds`, () => {
    for (let seed = 1; seed <= MAX_SEEDS_TO_CATCH; seed++) {
      const [violation] = runQuorumSimulation({ ...bug.config, seed }).violations;
      if (violation === undefined) continue;
      console.log(
        `${bug.name}: caught at seed ${seed} by ${violation.invariant}: ${violation.detail}`,
      );
      assert.deepEqual(runQuorumSimulation({ seed }).violations, []);
      return;
    }
    assert.fail(`${bug.name} survived ${MAX_SEEDS_TO_CATCH} seeds`);
  });
}

test("quorum queue: a seed replays exactly (the same run twice gives the same result)", () => {
  for (const seed of [3, 4]) {
    const first = runQuorumSimulation({ seed });
    const second = runQuorumSimulation({ seed });
    assert.deepEqual(second, first);
    assert.ok(first.confirmed > 0 && first.deliveries > 0, "the run did something");
  }
});
