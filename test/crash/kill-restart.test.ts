import assert from "node:assert/strict";
import { test } from "node:test";
import { runCrashCampaign } from "./crash-campaign.js";

const KILLS = Number(process.env.WARREN_CRASH_KILLS ?? 20);
const SEED = Number(process.env.WARREN_CRASH_SEED ?? Date.now() % 1_000_000);

test(`SIGKILL at ${KILLS} random moments loses no confirmed message (seed ${SEED})`, async () => {
  const result = await runCrashCampaign({ kills: KILLS, seed: SEED, log: (l) => console.log(l) });
  console.log(JSON.stringify({ ...result, lost: result.lost.length }));
  assert.deepEqual(
    result.lost,
    [],
    `confirmed messages lost; replay with WARREN_CRASH_SEED=${SEED}`,
  );
  assert.ok(
    result.confirmed > KILLS * 10,
    `too few confirmed publishes to mean anything: ${result.confirmed}`,
  );
  assert.ok(result.recoveredMessages > 0, "some kills must leave messages to recover");
});
