import type { History } from "../../doctor/history.js";
import type { Queue, QueueStats } from "../../queue/queue-type.js";
import { details, isoTime, type Json, sorted, tableJson } from "./format.js";
import type { QueueReplicas } from "./quorum-view.js";

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

/** The counts of a queue's stats snapshot, in the words the views and metrics use. */
export function queueCounts(s: QueueStats): QueueCounts {
  return {
    ready: s.messagesReady,
    unacked: s.messagesUnacknowledged,
    readyBytes: s.messageBytesReady,
    unackedBytes: s.messageBytesUnacknowledged,
    readyRam: s.messagesReadyRam,
    pagedOut: s.messagesPagedOut,
    bytesRam: s.messageBytesRam,
    bytesPagedOut: s.messageBytesPagedOut,
    memory: s.memoryBytes,
  };
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
  q: Queue,
  node: string,
  history: History,
  owner: QueueOwner | undefined,
  policies: QueuePolicies,
  replicas?: QueueReplicas,
): Json {
  const s = q.stats();
  const c = queueCounts(s);
  const d = q.definition;
  const rates = history.queueRates(d.vhost, d.name);
  const capacity = s.consumerCapacity;
  const view: Json = {
    arguments: tableJson(d.arguments),
    auto_delete: d.autoDelete,
    consumer_capacity: capacity,
    consumer_utilisation: capacity,
    consumers: s.consumers,
    durable: d.durable,
    effective_policy_definition: policies.effective,
    exclusive: d.exclusive,
    exclusive_consumer_tag: s.exclusiveConsumerTag ?? null,
    head_message_timestamp: null,
    idle_since: isoTime(s.lastUsedMs),
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
    // A queue on another node of the cluster shows its home, as RabbitMQ does.
    node: q.remote?.node ?? node,
    operator_policy: policies.operatorPolicy ?? null,
    policy: policies.policy ?? null,
    recoverable_slaves: null,
    single_active_consumer_tag: null,
    state: s.state,
    type: q.type,
    vhost: d.vhost,
  };
  if (replicas) {
    view.leader = replicas.leader;
    view.members = [...replicas.members];
    view.online = [...replicas.online];
    // A quorum queue is served by its leader's node, which RabbitMQ shows as its node (a
    // classic queue's leader is its home, already its node).
    if (replicas.leader !== null) view.node = replicas.leader;
  }
  if (owner) {
    view.owner_pid_details = {
      name: owner.name,
      peer_host: owner.peerHost,
      peer_port: owner.peerPort,
    };
  }
  return sorted(view);
}
