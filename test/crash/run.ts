/**
 * A longer crash campaign from the command line:
 *   npm run test:crash -- --kills 200 [--seed N]
 * Prints a line per kill and a JSON summary; exits 1 on any lost confirmed message.
 */
import { parseArgs } from "node:util";
import { runCrashCampaign } from "./crash-campaign.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "200" },
    seed: { type: "string" },
    "max-run-ms": { type: "string" },
  },
});
const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
const result = await runCrashCampaign({
  kills: Number(values.kills),
  seed,
  maxRunMs: values["max-run-ms"] ? Number(values["max-run-ms"]) : undefined,
  log: (l) => console.log(l),
});
console.log(
  JSON.stringify({ ...result, lost: result.lost.length, lostIds: result.lost.slice(0, 20) }),
);
if (result.lost.length > 0) {
  console.error(
    `LOST ${result.lost.length} confirmed messages. Replay: npm run test:crash -- --kills ${result.kills} --seed ${seed}`,
  );
  process.exit(1);
}
