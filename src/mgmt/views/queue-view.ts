import type { History } from "../../doctor/history.js";
import type { MessageQueue } from "../../queue/message-queue.js";
import { details, isoTime, type Json, sorted, tableJson } from "./format.js";

/** Bytes a message entry costs in memory beyond its body (entry, message, property bytes). */
const ENTRY_OVERHEAD_BYTES = 120;
/** ColdIndex: about 41 bytes per message kept only on disk. */
const COLD_ENTRY_BYTES = 41;

/** The queue type RabbitMQ reports: x-queue-type, or classic. */
export function queueType(q: MessageQueue): string {
  const t = q.definition.arguments.get("x-queue-type");
  return t?.type === "S" ? t.value.toString() : "classic";
}

/** Counts a queue's list entry and the metrics share. */
export interface QueueCounts {
  readonly ready: number;
  readonly unacked: number;
  readonly readyBytes: number;
  readonly unackedBytes: number;
  readonly readyRam: number;
  readonly pagedOut: number;
  readonly bytesRam: number;
  readonly bytesPagedOut: number;
  /** An estimate of the memory the queue holds, in bytes. */
  readonly memory: number;
}

export function queueCounts(q: MessageQueue): QueueCounts {
  const ready = q.messageCount;
  const readyRam = q.ready.inMemory;
  const pagedOut = ready - readyRam;
  const readyBytes = q.ready.bytes;
  // ReadyList keeps one byte total; split it by the share of entries in memory.
  const readyBytesRam = ready > 0 ? Math.round((readyBytes * readyRam) / ready) : 0;
  const bytesRam = readyBytesRam + q.unackedBytes;
  return {
    ready,
    unacked: q.unacked,
    readyBytes,
    unackedBytes: q.unackedBytes,
    readyRam,
    pagedOut,
    bytesRam,
    bytesPagedOut: readyBytes - readyBytesRam,
    memory:
      1024 + (readyRam + q.unacked) * ENTRY_OVERHEAD_BYTES + bytesRam + pagedOut * COLD_ENTRY_BYTES,
  };
}

/** The fraction of consumers that could take a message now (RabbitMQ's consumer_capacity). */
export function consumerCapacity(q: MessageQueue): number {
  const cs = q.consumerList;
  if (cs.length === 0) return 0;
  let ready = 0;
  for (const c of cs) if (c.active && c.belowPrefetch && c.sink.hasCredit(c)) ready++;
  return ready / cs.length;
}

/** The policies applied to a queue, and their merged definition. */
export interface QueuePolicies {
  readonly policy: string | undefined;
  readonly operatorPolicy: string | undefined;
  readonly effective: Json;
}

export interface QueueOwner {
  readonly name: string;
  readonly peerHost: string;
  readonly peerPort: number;
}

/** A queue as /api/queues shows it (RabbitMQ 3.x field names). */
export function queueView(
  q: MessageQueue,
  node: string,
  history: History,
  owner: QueueOwner | undefined,
  policies: QueuePolicies,
): Json {
  const c = queueCounts(q);
  const d = q.definition;
  const rates = history.queueRates(d.vhost, d.name);
  const s = q.stats;
  const exclusiveConsumer = q.consumerList.find((x) => x.options.exclusive);
  const capacity = consumerCapacity(q);
  const view: Json = {
    arguments: tableJson(d.arguments),
    auto_delete: d.autoDelete,
    consumer_capacity: capacity,
    consumer_utilisation: capacity,
    consumers: q.consumerCount,
    durable: d.durable,
    effective_policy_definition: policies.effective,
    exclusive: d.exclusive,
    exclusive_consumer_tag: exclusiveConsumer?.tag ?? null,
    head_message_timestamp: null,
    idle_since: isoTime(q.lastUsedMs),
    memory: c.memory,
    message_bytes: c.readyBytes + c.unackedBytes,
    message_bytes_paged_out: c.bytesPagedOut,
    message_bytes_ram: c.bytesRam,
    message_bytes_ready: c.readyBytes,
    message_bytes_unacknowledged: c.unackedBytes,
    message_stats: {
      ack: s.acked,
      ack_details: details(rates.ack),
      deliver: s.delivered,
      deliver_details: details(rates.deliverGet),
      deliver_get: s.delivered,
      deliver_get_details: details(rates.deliverGet),
      publish: s.published,
      publish_details: details(rates.publish),
      redeliver: s.redelivered,
      redeliver_details: details(rates.redeliver),
    },
    messages: c.ready + c.unacked,
    messages_details: details(rates.messages),
    messages_paged_out: c.pagedOut,
    messages_ram: c.readyRam + c.unacked,
    messages_ready: c.ready,
    messages_ready_details: details(),
    messages_ready_ram: c.readyRam,
    messages_unacknowledged: c.unacked,
    messages_unacknowledged_details: details(),
    messages_unacknowledged_ram: c.unacked,
    name: d.name,
    node,
    operator_policy: policies.operatorPolicy ?? null,
    policy: policies.policy ?? null,
    recoverable_slaves: null,
    single_active_consumer_tag: null,
    state: "running",
    type: queueType(q),
    vhost: d.vhost,
  };
  if (owner) {
    view.owner_pid_details = {
      name: owner.name,
      peer_host: owner.peerHost,
      peer_port: owner.peerPort,
    };
  }
  return sorted(view);
}
