import assert from "node:assert/strict";
import { test } from "node:test";
import { warrenOnly } from "../support/warren-only.js";
import { runQuorumCampaign } from "./quorum-campaign.js";

const ROUNDS = Number(process.env.WARREN_QQ_CRASH_ROUNDS ?? 5);
const SEED = Number(process.env.WARREN_QQ_CRASH_SEED ?? Date.now() % 1_000_000);
const skip = warrenOnly("starts its own Warren cluster");

test(`quorum queues on 3 nodes: kill -9 of a node (the leader or not) ${ROUNDS} times loses no confirmed message (seed ${SEED})`, {
  skip,
}, async () => {
  const result = await runQuorumCampaign({
    rounds: ROUNDS,
    seed: SEED,
    maxRunMs: 1_000,
    maxDownMs: 1_500,
    log: (l) => console.log(l),
  });
  const { roundRecords, lost, duplicatedWithoutRedelivered, ...summary } = result;
  console.log(JSON.stringify({ ...summary, lost: lost.length, duplicatedWithoutRedelivered }));
  const replay = `replay with WARREN_QQ_CRASH_SEED=${SEED}; node logs: ${result.logsDir}`;
  assert.equal(result.failure, undefined, `${result.failure}; ${replay}`);
  assert.deepEqual(lost.slice(0, 20), [], `${lost.length} confirmed messages lost; ${replay}`);
  assert.ok(result.confirmed > ROUNDS * 100, `too few confirmed publishes: ${result.confirmed}`);
  assert.equal(result.unknown, 0, "every delivery is a message the campaign published");
});
