import type { DamageEvent } from "../../store/message-store.js";
import type { Broker } from "../../vhost/broker.js";
import { type Check, type Finding, plural } from "../finding.js";

/** Damage events shown as evidence (the newest). */
const EVIDENCE_EVENTS = 10;

/** Store id to "'name' in vhost 'v'", for the queues and delayed exchanges that exist now. */
function ownerNames(broker: Broker): Map<number, string> {
  const names = new Map<number, string>();
  for (const v of broker.vhosts.values()) {
    for (const q of v.queues.values())
      names.set(q.storeId, `queue '${q.name}' in vhost '${v.name}'`);
    for (const e of v.exchanges.values())
      if (e.delayed) names.set(e.storeId, `delayed exchange '${e.name}' in vhost '${v.name}'`);
  }
  return names;
}

function describe(event: DamageEvent, names: Map<number, string>): string {
  const where = `segment ${event.segment} offset ${event.offset} (${event.bytes} bytes)`;
  const found = event.when === "recovery" ? "skipped at start" : "unreadable when read back";
  const what =
    event.record === "message" && event.msgId !== undefined
      ? `message ${event.msgId}`
      : `a ${event.record === "unknown" ? "record of unknown kind" : `${event.record} record`}`;
  const lost =
    event.lost === undefined
      ? "lost: unknown (the record's queue could not be read)"
      : event.lost.length === 0
        ? event.record === "settle"
          ? "no message lost (an acknowledgement record: one message may be delivered again)"
          : "no message lost"
        : `lost: ${event.lost.map((l) => `${l.messages} from ${names.get(l.queueId) ?? `store id ${l.queueId} (deleted since)`}`).join(", ")}`;
  return `${where}: ${what}, ${found}; ${lost}`;
}

/**
 * Damaged records in the message log (issue 13, item 8): a bad byte costs only
 * the record it is in, but the messages in those records are gone, and the
 * operator must hear which, and that the disk needs looking at.
 */
export const storeDamage: Check = {
  id: "store-damage",
  description: "damaged records in the message store and the messages lost with them",
  run(input): Finding[] {
    const damage = input.broker.store?.damage;
    if (!damage || damage.corruptRecords === 0) return [];
    const names = ownerNames(input.broker);
    const unknown = damage.events.some((e) => e.lost === undefined);
    return [
      {
        check: this.id,
        severity: damage.lostMessages > 0 || unknown ? "critical" : "warning",
        title:
          `the message store found ${plural(damage.corruptRecords, "damaged record")} ` +
          `(${damage.skippedBytes} bytes) since the node started; ` +
          `${plural(damage.lostMessages, "queued message")} lost with them` +
          (unknown ? ", and possibly more whose queue could not be told" : ""),
        evidence: damage.events.slice(-EVIDENCE_EVENTS).map((e) => describe(e, names)),
        remedy:
          "Only the damaged records were skipped; every record around them was kept and the queues carry on. " +
          "The messages named here are gone: republish them from their source if you can. Then look at the disk " +
          "under the data directory (dmesg, smartctl -a, the file system's check) and move the node to healthy " +
          "storage if it shows errors; copy the data directory (msgs/*.wlog) first if you want to keep the evidence. " +
          "The count is since this start; a restart reports damage still on disk again.",
      },
    ];
  },
};
