import type { Log } from "../log.js";
import type { ColdRecord } from "../message/cold-index.js";
import type { Message, QueueEntry, StoredRef } from "../message/message.js";
import type { DiscardReason, QueueHooks } from "../queue/queue-hooks.js";
import type { Queue } from "../queue/queue-type.js";
import type { PageIn, Pager } from "../queue/ready-list.js";
import type { MessageStore } from "../store/message-store.js";
import { CorruptRecordError, errText } from "../store/segment-log.js";

/** What the queue hooks report back to the broker. */
export interface QueueEvents {
  discarded(queue: Queue, entry: QueueEntry, reason: DiscardReason): void;
  lastConsumerGone(queue: Queue): void;
  dispatchLater(queue: Queue): void;
  /** Where read failures of paged-out messages are reported. */
  readonly log?: Log;
}

/**
 * Whether a queue's claim on a message survives a restart: the message is
 * persistent and the queue durable (RabbitMQ drops transient messages of durable
 * queues on restart). Other stored claims are page-outs, forgotten on restart.
 */
function survives(queue: Queue, persistent: boolean): boolean {
  return persistent && queue.isDurable;
}

/**
 * The queue hooks that bind queues to the message store: settle records for
 * acknowledged or dropped messages, delivery-count records, and paging of long
 * queues out of memory.
 */
export function storageQueueHooks(
  store: MessageStore | undefined,
  events: QueueEvents,
): Omit<QueueHooks, "releaseLater" | "upkeepLater" | "store"> {
  const lastPageOut: LastPageOut = { message: undefined, ref: undefined };
  const endClaim = (queue: Queue, msgId: number, ref: QueueEntry["ref"], persistent: boolean) => {
    if (!store || !ref) return;
    // A deleted queue's claims end without records: its id leaves the definitions.
    if (survives(queue, persistent) && !queue.deleted) store.settle(queue.storeId, msgId, ref);
    else store.release(queue.storeId, ref);
  };
  return {
    settled: (queue, entry) =>
      endClaim(queue, entry.message.id, entry.ref, entry.message.persistent),
    discarded: (queue, entry, reason) => {
      // The dead-lettered copy is written before this queue's claim ends: a crash
      // in between leaves a duplicate, never a loss.
      events.discarded(queue, entry, reason);
      endClaim(queue, entry.message.id, entry.ref, entry.message.persistent);
    },
    settledCold: (queue, record: ColdRecord) =>
      endClaim(queue, record.msgId, record, record.persistent),
    delivering: (queue, entry) => {
      if (store && entry.ref && survives(queue, entry.message.persistent)) {
        store.delivered(queue.storeId, entry.message.id, entry.ref, entry.deliveryCount);
      }
    },
    lastConsumerGone: (queue) => events.lastConsumerGone(queue),
    dispatchLater: (queue) => events.dispatchLater(queue),
    pager: store ? (queue) => storePager(store, queue, events.log, lastPageOut) : undefined,
  };
}

/** The page-out record written last, so the other queues of a fanout share it. */
interface LastPageOut {
  message: Message | undefined;
  ref: StoredRef | undefined;
}

function storePager(
  store: MessageStore,
  queue: Queue,
  log: Log | undefined,
  last: LastPageOut,
): Pager {
  /** The error that stalls this queue's page-ins, while one does (logged once, and when it ends). */
  let stalledBy: string | undefined;
  const toEntry = (record: ColdRecord, message: Message): QueueEntry => ({
    seq: record.msgId,
    message,
    deliveryCount: record.deliveryCount,
    redelivered: record.deliveryCount > 0,
    expiresAtMs: record.expiresAtMs,
    ref: { segment: record.segment, offset: record.offset, length: record.length },
  });
  const where = () => `queue '${queue.name}' in vhost '${queue.definition.vhost}'`;
  return {
    pageOut(entry: QueueEntry): ColdRecord {
      // A persistent message of a durable queue is stored already; anything else is
      // written now as a page-out record. A message routed to many queues is enqueued
      // on all of them in one go, so when the last record written is this message's,
      // this queue takes a claim on it instead of writing the body again. The store
      // keeps a record in memory while the disk refuses it, so the position it
      // returns is always good to read.
      if (!entry.ref) {
        if (last.message === entry.message && last.ref) {
          store.claim(queue.storeId, last.ref);
          entry.ref = last.ref;
        } else {
          entry.ref = store.write(entry.message, [queue.storeId], false);
          last.message = entry.message;
          last.ref = entry.ref;
        }
      }
      return {
        msgId: entry.message.id,
        segment: entry.ref.segment,
        offset: entry.ref.offset,
        length: entry.ref.length,
        bodyBytes: entry.message.body.length,
        deliveryCount: entry.deliveryCount,
        expiresAtMs: entry.expiresAtMs,
        persistent: entry.message.persistent && entry.ref !== undefined && queue.isDurable,
        arrivedAtMs: entry.message.arrivedAtMs,
        priority: entry.message.summary.priority,
      };
    },
    /**
     * Reads a batch back; never throws into delivery. A record that can never be
     * read (checksum mismatch) loses that one message: its claim ends, the loss is
     * logged and counted, and the queue carries on. Any other failure (EMFILE,
     * EIO) stops the batch there: the rest stays cold and is tried again later.
     */
    pageIn(records: readonly ColdRecord[]): PageIn {
      try {
        const messages = store.readMany(records);
        if (stalledBy) resumed();
        return {
          entries: records.map((r, i) => toEntry(r, messages[i]!)),
          consumed: records.length,
        };
      } catch {
        // One by one, to tell which record is at fault.
      }
      const entries: QueueEntry[] = [];
      for (const [i, record] of records.entries()) {
        try {
          entries.push(toEntry(record, store.read(record)));
        } catch (e) {
          if (e instanceof CorruptRecordError) {
            lostForGood(record, e);
            continue;
          }
          stalled(e);
          return { entries, consumed: i };
        }
      }
      if (stalledBy) resumed();
      return { entries, consumed: records.length };
    },
  };

  function lostForGood(record: ColdRecord, e: CorruptRecordError): void {
    store.lost(queue.storeId, record.msgId, record, record.persistent);
    log?.error(
      {
        queue: queue.name,
        vhost: queue.definition.vhost,
        messageId: record.msgId,
        segment: record.segment,
        offset: record.offset,
        err: e.message,
      },
      `lost message ${record.msgId} of ${where()}: its stored record is unreadable (${e.message}); the queue carries on with the next message`,
    );
  }

  function stalled(e: unknown): void {
    const reason = errText(e);
    if (stalledBy !== reason)
      log?.warn(
        { queue: queue.name, vhost: queue.definition.vhost, err: reason },
        `could not read paged-out messages of ${where()} now (${reason}); they stay queued and delivery resumes when a read succeeds`,
      );
    stalledBy = reason;
  }

  function resumed(): void {
    log?.info(
      { queue: queue.name, vhost: queue.definition.vhost, err: stalledBy },
      `reading paged-out messages of ${where()} works again (after ${stalledBy})`,
    );
    stalledBy = undefined;
  }
}
