import type { Queue } from "../../queue/queue-type.js";
import { type Check, type Finding, seconds } from "../finding.js";
import { REPLY_QUEUE } from "./queue-backlogs.js";

/** Unused this long with no consumer, a reply or server-named queue is abandoned (default). */
export const ABANDONED_MS = 60 * 60_000;

/**
 * Queues their callers create for themselves: RPC reply queues, server-named ones,
 * and oslo.messaging's per-process fanout queues (`<topic>_fanout_<uuid>`, seed 003:
 * after an agent restarts, its old fanout queue keeps stacking messages).
 */
export function isTransientQueue(name: string): boolean {
  return REPLY_QUEUE.test(name) || name.startsWith("amq.gen-") || /_fanout_[0-9a-f]/i.test(name);
}
/** Time a queue may outlive its expiry before it counts (the broker checks on a timer). */
const EXPIRY_SLACK_MS = 5_000;

/** The queue's expiry (x-expires or an expires policy), in ms. */
export type ExpiryOf = (q: Queue) => number | undefined;

/** The expiry the queue's settings carry (its x-expires argument and policies resolved). */
export const expiryFromSettings: ExpiryOf = (q) => q.settings.expiresMs;

/**
 * Seed 003, "transient queue TTL": queues unused past their expiry (x-expires or an
 * expires policy) should be gone; reply and server-named queues unused for an hour
 * with no consumer are abandoned by callers that went away, and pile up unless an
 * expires policy removes them.
 */
export function expiredQueues(expiryOf: ExpiryOf = expiryFromSettings): Check {
  return {
    id: "expired-queues",
    description: "queues unused past their expiry, and abandoned reply queues without one",
    run(input): Finding[] {
      const abandonedMs = input.abandonedAfterMs ?? ABANDONED_MS;
      const overdue: string[] = [];
      const abandoned: string[] = [];
      for (const vhost of input.broker.vhosts.values()) {
        for (const q of vhost.queues.values()) {
          if (q.consumerCount > 0) continue;
          const unusedMs = input.nowMs - q.stats().lastUsedMs;
          const expires = expiryOf(q);
          const what = `queue '${q.name}' in vhost '${vhost.name}': unused for ${seconds(unusedMs)}, ${q.messageCount} messages`;
          if (expires !== undefined) {
            if (unusedMs > expires + EXPIRY_SLACK_MS)
              overdue.push(`${what}, expires after ${seconds(expires)}`);
          } else if (unusedMs > abandonedMs && isTransientQueue(q.name)) {
            abandoned.push(what);
          }
        }
      }
      const findings: Finding[] = [];
      if (overdue.length > 0) {
        findings.push({
          check: "expired-queues",
          severity: "critical",
          title: `${overdue.length} queue(s) outlived their expiry`,
          evidence: overdue.slice(0, 10),
          remedy:
            "These queues should have been deleted when their expiry passed; report it as a Warren bug with " +
            "`warrenctl doctor --json` attached, and delete them by hand meanwhile (warrenctl delete_queue).",
          seed: "003 (queue expiry)",
        });
      }
      if (abandoned.length > 0) {
        findings.push({
          check: "expired-queues",
          severity: "warning",
          title: `${abandoned.length} reply, fanout or server-named queue(s) abandoned for over ${seconds(abandonedMs)}`,
          evidence: abandoned.slice(0, 10),
          remedy:
            "Their callers are gone. Delete them, and set an expires policy on such queues (for OpenStack: " +
            `warrenctl set_policy expiry "^(reply_|amq\\.gen-)|_fanout_" '{"expires":1800000}' --apply-to queues) so they go by themselves.`,
          seed: "003 (transient queue TTL)",
        });
      }
      return findings;
    },
  };
}
