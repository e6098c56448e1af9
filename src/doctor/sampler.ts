import type { AmqpConnection } from "../connection/amqp-connection.js";
import type { Broker } from "../vhost/broker.js";
import { type ConnectionEvent, type NodeSample, type QueueSample, queueKey } from "./history.js";

/** The depths and running totals of every queue and exchange, now. */
export function takeSample(
  broker: Broker,
  atMs: number,
  connections: number,
  fdUsed: number,
): NodeSample {
  const queues = new Map<string, QueueSample>();
  const unroutable = new Map<string, number>();
  for (const vhost of broker.vhosts.values()) {
    for (const q of vhost.queues.values()) {
      const s = q.stats();
      queues.set(queueKey(vhost.name, q.name), {
        vhost: vhost.name,
        name: q.name,
        ready: s.messagesReady,
        unacked: s.messagesUnacknowledged,
        consumers: s.consumers,
        published: s.published,
        delivered: s.delivered,
        redelivered: s.redelivered,
        acked: s.acked,
      });
    }
    for (const e of vhost.exchanges.values()) {
      if (e.unroutable > 0) unroutable.set(queueKey(vhost.name, e.name), e.unroutable);
    }
  }
  return {
    atMs,
    counters: structuredClone(broker.counters),
    queues,
    unroutable,
    connections,
    fdUsed,
  };
}

/** Whether a close reason is the broker's missed-heartbeat close (AmqpConnection.tick). */
export function isMissedHeartbeat(reason: string): boolean {
  return reason.startsWith("missed heartbeats from client");
}

/** A connection event from a connection's current state. */
export function connectionEvent(
  kind: ConnectionEvent["kind"],
  conn: AmqpConnection,
  atMs: number,
): ConnectionEvent {
  return {
    atMs,
    kind,
    name: conn.name,
    peerHost: conn.transport.remoteAddress,
    user: conn.user?.name,
    vhost: conn.vhost?.name,
    reason: kind === "closed" ? conn.closeReason || "closed" : "",
    missedHeartbeats: kind === "closed" && isMissedHeartbeat(conn.closeReason),
  };
}
