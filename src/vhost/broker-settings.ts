/**
 * Where an EXTERNAL (x509) login takes the user name from: the certificate's whole
 * subject (RabbitMQ's default) or its CN (RabbitMQ's ssl_cert_login_from values).
 */
export type CertLoginFrom = "distinguished_name" | "common_name";

/**
 * A peer named in the cluster configuration (RabbitMQ's classic_config nodes):
 * its node name and where its cluster port listens.
 */
export interface ClusterNodeAddress {
  /** The node name, name@host (warren@a). */
  readonly name: string;
  /** The host part of the name: where the node is reached. */
  readonly host: string;
  /** Its cluster port (RabbitMQ's distribution port). */
  readonly port: number;
}

/**
 * Every limit and default of a node, with RabbitMQ's defaults where RabbitMQ has
 * the same setting (DESIGN §3.3: a limit on everything, each a named setting).
 */
export interface BrokerSettings {
  /** Node name shown in status and connection.start (RabbitMQ's node name). */
  readonly nodeName: string;
  readonly clusterName: string;
  /**
   * Port other nodes of the cluster reach this one on (RabbitMQ's distribution port,
   * AMQP port + 20000 by default); 0 lets the system pick one.
   */
  readonly clusterPort: number;
  /** The cluster's nodes as configured (classic config peer discovery); empty for a lone node. */
  readonly clusterNodes: readonly ClusterNodeAddress[];
  /** Heartbeat timeout the server proposes in connection.tune, seconds (RabbitMQ: 60). */
  readonly heartbeatSec: number;
  /** Highest channel number a connection may use (RabbitMQ: 2047). */
  readonly channelMax: number;
  /** Largest frame accepted, bytes (RabbitMQ: 131072). */
  readonly frameMax: number;
  /** Largest message body accepted (RabbitMQ 4.x max_message_size: 16 MiB). */
  readonly maxMessageBytes: number;
  /** Time a client has to finish the handshake (RabbitMQ handshake_timeout: 10 s). */
  readonly handshakeTimeoutMs: number;
  /** Users that may only log in from loopback addresses (RabbitMQ loopback_users). */
  readonly loopbackUsers: readonly string[];
  readonly defaultVhost: string;
  readonly defaultUser: string;
  readonly defaultPass: string;
  /** Bytes queued for a connection's socket above which deliveries to it pause. */
  readonly outputHighWaterBytes: number;
  /** Delivery acknowledgement timeout (RabbitMQ consumer_timeout: 30 minutes); 0 disables. */
  readonly consumerTimeoutMs: number;
  /** Most AMQP connections on this node (RabbitMQ connection_max); 0 means no limit. */
  readonly maxConnections: number;
  /** TCP keepalive probes after this many idle seconds; 0 leaves keepalive off (RabbitMQ's default). */
  readonly tcpKeepaliveSec: number;
  /**
   * SASL mechanisms offered in connection.start, in this order (RabbitMQ's
   * auth_mechanisms; default PLAIN and AMQPLAIN). EXTERNAL is offered only on amqps
   * connections whose client certificate verified.
   */
  readonly authMechanisms: readonly string[];
  /** Where EXTERNAL takes the user name from (RabbitMQ's ssl_cert_login_from). */
  readonly sslCertLoginFrom: CertLoginFrom;
}

export const DEFAULT_SETTINGS: BrokerSettings = {
  nodeName: "warren@localhost",
  clusterName: "warren@localhost",
  clusterPort: 25672,
  clusterNodes: [],
  heartbeatSec: 60,
  channelMax: 2047,
  frameMax: 131072,
  maxMessageBytes: 16 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  loopbackUsers: ["guest"],
  defaultVhost: "/",
  defaultUser: "guest",
  defaultPass: "guest",
  outputHighWaterBytes: 1024 * 1024,
  consumerTimeoutMs: 30 * 60 * 1000,
  maxConnections: 0,
  tcpKeepaliveSec: 0,
  authMechanisms: ["PLAIN", "AMQPLAIN"],
  sslCertLoginFrom: "distinguished_name",
};
