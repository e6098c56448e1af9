import type { AmqpConnection } from "../../connection/amqp-connection.js";
import type { Channel } from "../../connection/channel.js";
import { clientProperty } from "../../connection/client-info.js";
import type { Consumer } from "../../queue/consumer.js";
import { details, type Json, sorted, tableJson } from "./format.js";

/**
 * RabbitMQ's connection states: starting, tuning, opening, running, blocked (by a
 * resource alarm), flow (held by publisher flow control now or in the last 5 s, as
 * rabbit_reader reports it), closing, closed.
 */
export function connectionState(conn: AmqpConnection): string {
  switch (conn.state) {
    case "handshake":
      if (conn.expecting === "tune-ok") return "tuning";
      if (conn.expecting === "open") return "opening";
      return "starting";
    case "open":
      if (conn.blockedSinceMs !== undefined) return "blocked";
      return conn.flow.state(conn.broker.clock());
    default:
      return conn.state;
  }
}

/** A connection as /api/connections shows it. */
export function connectionView(conn: AmqpConnection, node: string): Json {
  const t = conn.transport;
  return sorted({
    auth_mechanism: conn.authMechanism,
    channel_max: conn.channelMax,
    channels: conn.channels.size,
    client_properties: tableJson(conn.client.properties),
    connected_at: conn.connectedAtMs,
    frame_max: conn.writer.frameMax,
    host: t.localAddress,
    name: conn.name,
    node,
    peer_cert_issuer: null,
    // RabbitMQ shows the subject as rabbit_ssl:peer_cert_subject writes it (the DN).
    peer_cert_subject: t.peerCertificate?.distinguishedName ?? null,
    peer_cert_validity: null,
    peer_host: t.remoteAddress,
    peer_port: t.remotePort,
    port: t.localPort,
    protocol: "AMQP 0-9-1",
    recv_cnt: conn.stats.recvCnt,
    recv_oct: conn.stats.recvOct,
    recv_oct_details: details(),
    send_cnt: conn.stats.sendCnt,
    send_oct: conn.stats.sendOct,
    send_oct_details: details(),
    send_pend: t.writableLength,
    ssl: t.tls === true,
    ssl_cipher: null,
    ssl_hash: null,
    ssl_key_exchange: null,
    ssl_protocol: null,
    state: connectionState(conn),
    timeout: conn.heartbeatSec,
    type: "network",
    user: conn.user?.name ?? "",
    user_provided_name: clientProperty(conn.client, "connection_name") ?? null,
    user_who_performed_action: conn.user?.name ?? "",
    vhost: conn.vhost?.name ?? "",
  });
}

/** RabbitMQ names a channel after its connection and number: "<conn name> (1)". */
export function channelName(ch: Channel): string {
  return `${ch.conn.name} (${ch.id})`;
}

/** A stand-in for an Erlang pid in rabbitmqctl columns: stable per connection and channel. */
export function channelPid(ch: Channel, node: string): string {
  return `<${node}.${ch.conn.id}.${ch.id}.0>`;
}

export function connectionPid(conn: AmqpConnection, node: string): string {
  return `<${node}.${conn.id}.0.0>`;
}

function uncommittedPublishes(ch: Channel): number {
  return ch.txActions.filter((a) => a.kind === "publish").length;
}

/** A channel as /api/channels shows it. */
export function channelView(ch: Channel, node: string): Json {
  const conn = ch.conn;
  return sorted({
    acks_uncommitted: ch.txPendingTags.size,
    confirm: ch.mode === "confirm",
    connection_details: {
      name: conn.name,
      peer_host: conn.transport.remoteAddress,
      peer_port: conn.transport.remotePort,
    },
    consumer_count: ch.consumers.size,
    global_prefetch_count: ch.globalPrefetchCount,
    messages_unacknowledged: ch.unacked.size,
    messages_uncommitted: uncommittedPublishes(ch),
    messages_unconfirmed: ch.confirms.outstanding,
    name: channelName(ch),
    node,
    number: ch.id,
    pending_raft_commands: 0,
    pid: channelPid(ch, node),
    prefetch_count: ch.prefetchCount,
    state: ch.state === "open" ? "running" : "closing",
    transactional: ch.mode === "tx",
    user: conn.user?.name ?? "",
    user_who_performed_action: conn.user?.name ?? "",
    vhost: conn.vhost?.name ?? "",
  });
}

/** A consumer as /api/consumers shows it. */
export function consumerView(consumer: Consumer, ch: Channel, node: string): Json {
  const conn = ch.conn;
  return sorted({
    ack_required: !consumer.options.noAck,
    active: consumer.active,
    activity_status: consumer.active ? "up" : "waiting",
    arguments: tableJson(consumer.options.arguments),
    channel_details: {
      connection_name: conn.name,
      name: channelName(ch),
      node,
      number: ch.id,
      peer_host: conn.transport.remoteAddress,
      peer_port: conn.transport.remotePort,
      user: conn.user?.name ?? "",
    },
    channel_pid: channelPid(ch, node),
    consumer_tag: consumer.tag,
    exclusive: consumer.options.exclusive,
    prefetch_count: consumer.options.prefetchCount,
    queue: { name: consumer.queue.name, vhost: consumer.queue.definition.vhost },
    // Warren's own: messages delivered to this consumer and not yet settled.
    unacked: consumer.unacked,
  });
}
