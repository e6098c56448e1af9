/** The quorum kill -9 campaign's figures as the Markdown table docs/QUORUM.md keeps. */
import type { QuorumCampaignResult } from "./quorum-campaign.js";

export function quorumTable(r: QuorumCampaignResult, commit: string): string {
  const ms = (p: { p50: number; p99: number; max: number; never: number }) =>
    `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms` +
    (p.never > 0 ? ` (${p.never} kills never followed by a confirm of every queue)` : "");
  const rows: [string, string][] = [
    ["seed", String(r.seed)],
    ["commit", commit],
    ["rounds (kills)", `${r.rounds} (${r.leaderKills} of a node leading a queue)`],
    ["queues", String(r.queues)],
    ["duration", `${Math.round(r.elapsedMs / 1000)} s`],
    ["published", String(r.published)],
    ["confirmed", String(r.confirmed)],
    ["nacked", String(r.nacked)],
    ["returned", String(r.returned)],
    ["unanswered (connection died first)", String(r.unanswered)],
    ["delivered (distinct)", String(r.delivered)],
    ["deliveries", String(r.deliveries)],
    ["**lost** (confirmed, never delivered)", `**${r.lost.length}**`],
    ["duplicated (delivered more than once)", String(r.duplicated)],
    [
      "duplicated without redelivered=true on the repeat",
      String(r.duplicatedWithoutRedelivered.length),
    ],
    ["left in the queues after the drain", String(r.leftInQueues)],
    ["kill to the next confirm of every queue", ms(r.recoveryMs)],
    ["the same, kills of a leader's node", ms(r.leaderRecoveryMs)],
    [
      "client reconnects (publishers / consumers), basic.cancel",
      `${r.publisherReconnects} / ${r.consumerReconnects}, ${r.consumerCancels}`,
    ],
  ];
  if (r.failure) rows.push(["failure", r.failure]);
  return ["| figure | value |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join(
    "\n",
  );
}
