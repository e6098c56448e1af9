import type { DiscardReason } from "../queue/queue-hooks.js";
import type { LimitRefusal } from "./limits.js";

/** Counters an operator reads (list and metrics); monotonic totals. */
export interface BrokerCounters {
  connectionsOpened: number;
  connectionsClosed: number;
  channelsOpened: number;
  channelsClosed: number;
  queuesDeclared: number;
  queuesDeleted: number;
  messagesPublished: number;
  messagesUnroutable: number;
  messagesDelivered: number;
  messagesRedelivered: number;
  missedHeartbeatCloses: number;
  /** Times a connection was put in flow (publisher flow control), and the time it spent there. */
  flowPauses: number;
  flowHeldMs: number;
  /** Messages dead-lettered to another exchange, by reason. */
  deadLetteredByReason: Record<DiscardReason, number>;
  /** Messages that left a queue unacked and went nowhere (no DLX, or the DLX routed nowhere). */
  droppedByReason: Record<DiscardReason, number>;
  deadLetterCycles: number;
  /** Unroutable messages kept in a vhost's capture queue instead of dropped. */
  unroutableCaptured: number;
  /** Queues deleted by x-expires. */
  queuesExpired: number;
  /** Refusals by the limit that refused them. */
  refusedByLimit: Record<LimitRefusal, number>;
  loginFailures: number;
}

const byReason = (): Record<DiscardReason, number> => ({
  rejected: 0,
  expired: 0,
  maxlen: 0,
  delivery_limit: 0,
});

/** Every counter at zero, as a node starts. */
export function newBrokerCounters(): BrokerCounters {
  return {
    connectionsOpened: 0,
    connectionsClosed: 0,
    channelsOpened: 0,
    channelsClosed: 0,
    queuesDeclared: 0,
    queuesDeleted: 0,
    messagesPublished: 0,
    messagesUnroutable: 0,
    messagesDelivered: 0,
    messagesRedelivered: 0,
    missedHeartbeatCloses: 0,
    flowPauses: 0,
    flowHeldMs: 0,
    deadLetteredByReason: byReason(),
    droppedByReason: byReason(),
    deadLetterCycles: 0,
    unroutableCaptured: 0,
    refusedByLimit: {
      node_connections: 0,
      vhost_connections: 0,
      user_connections: 0,
      vhost_queues: 0,
      user_channels: 0,
      channel_max: 0,
    },
    loginFailures: 0,
    queuesExpired: 0,
  };
}
