import type { ColdRecord } from "../queue/cold-index.js";
import type { Message, QueueEntry, StoredRef } from "../queue/message.js";
import type { DiscardReason, MessageQueue, QueueHooks } from "../queue/message-queue.js";
import type { Pager } from "../queue/ready-list.js";
import type { MessageStore } from "../store/message-store.js";

/** What the queue hooks report back to the broker. */
export interface QueueEvents {
  discarded(queue: MessageQueue, entry: QueueEntry, reason: DiscardReason): void;
  lastConsumerGone(queue: MessageQueue): void;
  dispatchLater(queue: MessageQueue): void;
}

/**
 * Whether a queue's claim on a message survives a restart: the message is
 * persistent and the queue durable (RabbitMQ drops transient messages of durable
 * queues on restart). Other stored claims are page-outs, forgotten on restart.
 */
function survives(queue: MessageQueue, persistent: boolean): boolean {
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
): Omit<QueueHooks, "releaseLater" | "upkeepLater"> {
  const lastPageOut: LastPageOut = { message: undefined, ref: undefined };
  const endClaim = (
    queue: MessageQueue,
    msgId: number,
    ref: QueueEntry["ref"],
    persistent: boolean,
  ) => {
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
    pager: store ? (queue) => storePager(store, queue, lastPageOut) : undefined,
  };
}

/** The page-out record written last, so the other queues of a fanout share it. */
interface LastPageOut {
  message: Message | undefined;
  ref: StoredRef | undefined;
}

function storePager(store: MessageStore, queue: MessageQueue, last: LastPageOut): Pager {
  return {
    pageOut(entry: QueueEntry): ColdRecord {
      // A persistent message of a durable queue is stored already; anything else is
      // written now as a page-out record. A message routed to many queues is enqueued
      // on all of them in one go, so when the last record written is this message's,
      // this queue takes a claim on it instead of writing the body again.
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
    pageIn(records: readonly ColdRecord[]): QueueEntry[] {
      const messages = store.readMany(records);
      return records.map((record, i) => ({
        seq: record.msgId,
        message: messages[i]!,
        deliveryCount: record.deliveryCount,
        redelivered: record.deliveryCount > 0,
        expiresAtMs: record.expiresAtMs,
        ref: { segment: record.segment, offset: record.offset, length: record.length },
      }));
    },
  };
}
