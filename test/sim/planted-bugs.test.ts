/**
 * The simulator is sharp: each planted bug (planted-bugs.ts) must be caught within a bounded
 * number of seeds. The count it took is printed, so a change that blunts the simulator
 * shows up as a larger number long before it shows up as a failure.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runSimulation } from "./cluster-sim.js";
import { PLANTED_BUGS } from "./planted-bugs.js";

/** No bug may survive this many seeds. */
const MAX_SEEDS_TO_CATCH = 1000;

describe("the simulator catches planted bugs", () => {
  for (const bug of PLANTED_BUGS) {
    test(`${bug.name} (${bug.rule}) is caught within ${MAX_SEEDS_TO_CATCH} seeds`, () => {
      for (let seed = 1; seed <= MAX_SEEDS_TO_CATCH; seed++) {
        const result = runSimulation({ ...bug.config, seed });
        const [violation] = result.violations;
        if (violation === undefined) continue;
        console.log(
          `${bug.name}: caught at seed ${seed} (${seed} seeds) by ${violation.invariant}: ` +
            violation.detail,
        );
        // The same seed without the bug passes: the bug, not the seed, broke the invariant.
        assert.deepEqual(runSimulation({ seed, metadata: bug.config.metadata }).violations, []);
        return;
      }
      assert.fail(`${bug.name} survived ${MAX_SEEDS_TO_CATCH} seeds`);
    });
  }
});
