import type { Message, StoredRef } from "../message/message.js";
import { ACCEPTED, afterSync, type EnqueueOutcome, refused } from "./enqueue-outcome.js";
import type { MessageQueue } from "./message-queue.js";
import type { ClassicStore } from "./queue-hooks.js";

const FULL = refused("reject-publish", "rejected by a full queue");

/**
 * Puts a message on classic queues. A persistent message bound for durable queues
 * is written to the store first, once for all of them (a fanout writes its body
 * once), and is accepted when the fdatasync that covers it returns: the store's
 * group commit, one per event-loop turn. A queue at its length limit with x-overflow
 * reject-publish(-dlx) refuses it (the others still take it), and the outcome is a
 * refusal at once.
 */
export function enqueueClassic(
  queues: readonly MessageQueue[],
  message: Message,
  nowMs: number,
  store: ClassicStore | undefined,
): EnqueueOutcome {
  let taking = queues;
  let full = false;
  for (const q of queues) {
    if (!q.accepts(message)) {
      full = true;
      break;
    }
  }
  if (full) {
    // The rare case: the same checks again, now refusing (a refusal may dead-letter).
    taking = queues.filter((q) => {
      if (q.accepts(message)) return true;
      q.refuse(message);
      return false;
    });
  }
  let ref: StoredRef | undefined;
  if (store && message.persistent) {
    const durable: number[] = [];
    for (const q of taking) if (q.isDurable) durable.push(q.storeId);
    if (durable.length > 0) ref = store.write(message, durable, true);
  }
  for (const q of taking) q.put(message, nowMs, ref && q.isDurable ? ref : undefined);
  if (full) return FULL;
  return ref ? afterSync(store!) : ACCEPTED;
}
