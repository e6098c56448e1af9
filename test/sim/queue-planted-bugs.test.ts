/**
 * The queue simulation is sharp: each planted queue bug (queue-planted-bugs.ts) must be
 * caught within a bounded number of seeds, and the seed that caught it passes without it.
 * The count it took is printed, so a change that blunts the simulation shows up early.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runQueueSimulation } from "./classic-queue-sim.js";
import { QUEUE_PLANTED_BUGS } from "./queue-planted-bugs.js";

/** No bug may survive this many seeds. */
const MAX_SEEDS_TO_CATCH = 300;

describe("the queue simulation catches planted bugs", () => {
  for (const bug of QUEUE_PLANTED_BUGS) {
    test(`${bug.name} (${bug.rule}) is caught within ${MAX_SEEDS_TO_CATCH} seeds`, async () => {
      for (let seed = 1; seed <= MAX_SEEDS_TO_CATCH; seed++) {
        const result = await runQueueSimulation({ ...bug.config, seed });
        const [violation] = result.violations;
        if (violation === undefined) continue;
        console.log(
          `${bug.name}: caught at seed ${seed} by ${violation.invariant}: ${violation.detail}`,
        );
        assert.deepEqual((await runQueueSimulation({ seed })).violations, []);
        return;
      }
      assert.fail(`${bug.name} survived ${MAX_SEEDS_TO_CATCH} seeds`);
    });
  }
});

test("a seed replays exactly: the same run twice gives the same result", async () => {
  for (const seed of [7, 8, 9]) {
    const first = await runQueueSimulation({ seed });
    const second = await runQueueSimulation({ seed });
    assert.deepEqual(second, first);
    assert.ok(first.confirmed > 0 && first.deliveries > 0, "the run did something");
  }
});
