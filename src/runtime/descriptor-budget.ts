/**
 * What the open-files limit must keep for everything that is not an AMQP client
 * socket. Each part is a bound, not a guess: RabbitMQ reserves a flat 100 and
 * then lets its file handle cache compete with sockets, which is how a node with
 * every segment file open ran out of descriptors at 621 connections while
 * advertising 831 (issue 13). Here the message store keeps at most
 * `messageStore` files open, so the allowance for sockets holds.
 */
export interface DescriptorReserve {
  /** Open before the node took any client: stdio, the event loop's own, the log. */
  readonly process: number;
  /** The message store's bound: cached read handles, the active segment, one being created, a directory fsync. */
  readonly messageStore: number;
  /** A definitions save: the temporary file and the directory fsync. */
  readonly definitions: number;
  /** The data directory lock. */
  readonly dataDirLock: number;
  /** Listening sockets: AMQP, AMQPS, management HTTP, Prometheus. */
  readonly listeners: number;
  /** Management and metrics requests served at once (each is a socket). */
  readonly httpClients: number;
  /** Short-lived descriptors: /proc reads for status, statfs, a DNS lookup. */
  readonly headroom: number;
}

/** HTTP requests (management API, Prometheus scrapes, warrenctl) the reserve lets run at once. */
export const HTTP_CLIENTS_RESERVED = 32;
export const HEADROOM_DESCRIPTORS = 16;

export function reserveTotal(r: DescriptorReserve): number {
  return (
    r.process +
    r.messageStore +
    r.definitions +
    r.dataDirLock +
    r.listeners +
    r.httpClients +
    r.headroom
  );
}

/** AMQP connections the limit allows once the reserve is kept (each takes one descriptor). */
export function socketsAllowance(fdLimit: number, reserve: DescriptorReserve): number {
  return Math.max(0, fdLimit - reserveTotal(reserve));
}

/** The reserve as status shows it (RabbitMQ-style snake_case keys). */
export function reserveView(r: DescriptorReserve): Record<string, number> {
  return {
    process: r.process,
    message_store: r.messageStore,
    definitions: r.definitions,
    data_dir_lock: r.dataDirLock,
    listeners: r.listeners,
    http_clients: r.httpClients,
    headroom: r.headroom,
    total: reserveTotal(r),
  };
}
