/**
 * A longer crash campaign from the command line:
 *   npm run test:crash -- --kills 200 [--seed N]
 * Prints a line per kill and a JSON summary; exits 1 on any lost confirmed message.
 *
 * Quorum queues on a 3-node cluster (test/crash/quorum-campaign.ts):
 *   npm run test:crash -- --quorum --rounds 30 [--seed N] [--queues 2]
 */
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { runCrashCampaign } from "./crash-campaign.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "200" },
    seed: { type: "string" },
    "max-run-ms": { type: "string" },
    quorum: { type: "boolean", default: false },
    rounds: { type: "string", default: "30" },
    queues: { type: "string" },
    "max-down-ms": { type: "string" },
    "drain-ms": { type: "string" },
  },
});
const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
if (values.quorum) {
  await runQuorum();
  process.exit(0);
}
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

async function runQuorum(): Promise<void> {
  const { runQuorumCampaign } = await import("./quorum-campaign.js");
  const { quorumTable } = await import("./quorum-report.js");
  const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const result = await runQuorumCampaign({
    rounds: Number(values.rounds),
    seed,
    queues: number(values.queues),
    maxRunMs: number(values["max-run-ms"]),
    maxDownMs: number(values["max-down-ms"]),
    drainTimeoutMs: number(values["drain-ms"]),
    log: (l) => console.log(l),
  });
  console.log(
    `kill to the next confirm of every queue, per round: ${result.roundRecords
      .map((r) => `${r.round}:${r.recoveryMs ?? "never"}${r.leaderOf.length > 0 ? "L" : ""}`)
      .join(" ")} (L: the node led a queue)`,
  );
  console.log(quorumTable(result, commitOf()));
  const {
    roundRecords: _,
    lost,
    duplicatedWithoutRedelivered,
    duplicatesWithoutFlagDetail,
    ...summary
  } = result;
  for (const line of duplicatesWithoutFlagDetail)
    console.log(`duplicate without the flag: ${line}`);
  console.log(
    JSON.stringify({
      ...summary,
      lost: lost.length,
      lostIds: lost.slice(0, 20),
      duplicatedWithoutRedelivered: duplicatedWithoutRedelivered.slice(0, 20),
    }),
  );
  const replay = `npm run test:crash -- --quorum --rounds ${values.rounds} --seed ${seed}`;
  if (lost.length > 0) console.error(`LOST ${lost.length} confirmed messages. Replay: ${replay}`);
  if (result.failure) console.error(`FAILED: ${result.failure}. Replay: ${replay}`);
  if (result.logsDir) console.error(`the nodes' logs: ${result.logsDir}`);
  if (lost.length > 0 || result.failure) process.exit(1);
}

function commitOf(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
