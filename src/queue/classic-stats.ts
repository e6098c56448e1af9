import type { MessageQueue } from "./message-queue.js";
import type { QueueStats } from "./queue-type.js";

/** Bytes a message entry costs in memory beyond its body (entry, message, property bytes). */
const ENTRY_OVERHEAD_BYTES = 120;
/** ColdIndex: about 41 bytes per message kept only on disk. */
const COLD_ENTRY_BYTES = 41;
/** What an empty queue costs. */
const QUEUE_BYTES = 1024;

/** A classic queue's figures now (management, metrics, doctor). */
export function classicQueueStats(q: MessageQueue): QueueStats {
  const ready = q.messageCount;
  const readyRam = q.ready.inMemory;
  const pagedOut = ready - readyRam;
  const readyBytes = q.ready.bytes;
  // ReadyList keeps one byte total; split it by the share of entries in memory.
  const readyBytesRam = ready > 0 ? Math.round((readyBytes * readyRam) / ready) : 0;
  const bytesRam = readyBytesRam + q.unackedBytes;
  const t = q.totals;
  return {
    messagesReady: ready,
    messagesUnacknowledged: q.unacked,
    messageBytesReady: readyBytes,
    messageBytesUnacknowledged: q.unackedBytes,
    messagesReadyRam: readyRam,
    messageBytesRam: bytesRam,
    messagesPagedOut: pagedOut,
    messageBytesPagedOut: readyBytes - readyBytesRam,
    memoryBytes:
      QUEUE_BYTES +
      (readyRam + q.unacked) * ENTRY_OVERHEAD_BYTES +
      bytesRam +
      pagedOut * COLD_ENTRY_BYTES,
    consumers: q.consumerCount,
    consumerCapacity: consumerCapacity(q),
    exclusiveConsumerTag: q.consumerList.find((c) => c.options.exclusive)?.tag,
    published: t.published,
    delivered: t.delivered,
    redelivered: t.redelivered,
    acked: t.acked,
    lastUsedMs: q.lastUsedMs,
    state: "running",
  };
}

/** The fraction of consumers that could take a message now (RabbitMQ's consumer_capacity). */
function consumerCapacity(q: MessageQueue): number {
  const cs = q.consumerList;
  if (cs.length === 0) return 0;
  let ready = 0;
  for (const c of cs) if (c.active && c.belowPrefetch && c.sink.hasCredit(c)) ready++;
  return ready / cs.length;
}
