import { decodePublishHeader, type PublishHeader, RecordType } from "./message-records.js";
import {
  type DamagedRecordKind,
  type DamageEvent,
  recordDamage,
  type StoreDamage,
} from "./message-store.js";
import type { RecoveringQueue } from "./recovering-queue.js";
import type { SegmentDamage } from "./segment-log.js";

/** A damaged message's place in one of its queues, to learn whether it was settled later. */
interface Placeholder {
  readonly queueId: number;
  readonly queue: RecoveringQueue;
  readonly index: number;
}

interface Found {
  readonly region: SegmentDamage;
  readonly kind: DamagedRecordKind;
  readonly msgId: number | undefined;
  /** Undefined when the record's queues cannot be told. */
  readonly placeholders: Placeholder[] | undefined;
}

/**
 * Works out, best effort, what the damaged stretches skipped at recovery cost:
 * a damaged PUBLISH record whose header still reads names its message and its
 * queues, and the settle records after it tell whether the message was still
 * wanted (a consumed message is no loss). Anything else is reported as damage
 * whose queues are unknown.
 */
export class RecoveryDamage {
  private readonly found: Found[] = [];

  constructor(private readonly queues: ReadonlyMap<number, RecoveringQueue>) {}

  get count(): number {
    return this.found.length;
  }

  skipped(region: SegmentDamage): void {
    const kind = kindOf(region);
    const header = kind === "message" ? readableHeader(region.payload!) : undefined;
    let placeholders: Placeholder[] | undefined;
    if (header) {
      placeholders = [];
      // A transient message is forgotten at a restart anyway: its damage loses nothing.
      if (header.persistent) {
        for (const queueId of header.queueIds) {
          const queue = this.queues.get(queueId);
          if (!queue?.accepts(header.msgId)) continue;
          const where = { segment: region.segment, offset: region.offset, length: region.bytes };
          const index = queue.push(header.msgId, where, NO_FACTS, true);
          placeholders.push({ queueId, queue, index });
        }
      }
    }
    this.found.push({ region, kind, msgId: header?.msgId, placeholders });
  }

  /** Counts the damage into `damage` once the whole log was scanned; returns the losses by queue. */
  finish(
    damage: StoreDamage,
    nowMs: number,
  ): { lostByQueue: Map<number, number>; unattributed: number } {
    const lostByQueue = new Map<number, number>();
    let unattributed = 0;
    for (const f of this.found) {
      let lost: DamageEvent["lost"];
      if (f.placeholders) {
        const byQueue = new Map<number, number>();
        for (const p of f.placeholders) {
          if (p.queue.settled[p.index]) continue;
          byQueue.set(p.queueId, (byQueue.get(p.queueId) ?? 0) + 1);
          lostByQueue.set(p.queueId, (lostByQueue.get(p.queueId) ?? 0) + 1);
          damage.lostMessages++;
        }
        lost = [...byQueue].map(([queueId, messages]) => ({ queueId, messages }));
      } else if (f.kind === "settle" || f.kind === "delivered") {
        lost = [];
      } else {
        unattributed++;
      }
      damage.corruptRecords++;
      damage.skippedBytes += f.region.bytes;
      recordDamage(damage, {
        atMs: nowMs,
        when: "recovery",
        segment: f.region.segment,
        offset: f.region.offset,
        bytes: f.region.bytes,
        record: f.kind,
        lost,
        ...(f.msgId !== undefined ? { msgId: f.msgId } : {}),
      });
    }
    return { lostByQueue, unattributed };
  }
}

const NO_FACTS = { bodyBytes: 0, arrivedAtMs: 0, priority: 0, expiresAtMs: 0 };

function kindOf(region: SegmentDamage): DamagedRecordKind {
  if (region.type === RecordType.Publish && region.payload) return "message";
  if (region.type === RecordType.Settle) return "settle";
  if (region.type === RecordType.Delivered) return "delivered";
  return "unknown";
}

/** The header of a damaged PUBLISH record, if it still looks like one. */
function readableHeader(payload: Buffer): PublishHeader | undefined {
  if (payload.length < 19 || payload[16]! > 1) return undefined;
  if (payload.length < 19 + 8 * payload.readUInt16LE(17)) return undefined;
  const header = decodePublishHeader(payload);
  const wholeIds = [header.msgId, ...header.queueIds].every(
    (n) => Number.isSafeInteger(n) && n > 0,
  );
  return wholeIds && header.queueIds.length > 0 ? header : undefined;
}

/**
 * Whether a record found while resynchronising past damage looks like one of the
 * message log's: the right type, and a payload whose structure fits its length.
 */
export function plausibleMessageRecord(type: number, payload?: Buffer): boolean {
  if (type === RecordType.Settle) return payload === undefined || payload.length === 16;
  if (type === RecordType.Delivered) return payload === undefined || payload.length === 20;
  if (type !== RecordType.Publish) return false;
  if (payload === undefined) return true;
  const header = readableHeader(payload);
  if (!header) return false;
  let at = header.rest;
  if (at >= payload.length) return false;
  at += 1 + payload[at]!;
  if (at >= payload.length) return false;
  at += 1 + payload[at]!;
  return at + 4 <= payload.length && at + 4 + payload.readUInt32LE(at) <= payload.length;
}
