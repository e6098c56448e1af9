import type { PropertySummary } from "../protocol/content-properties.js";

/**
 * A published message, shared by every queue it was routed to. Properties stay the
 * bytes the publisher sent (decoded only when a feature needs them).
 */
export interface Message {
  /** Broker-wide id, increasing in publish order. */
  readonly id: number;
  readonly exchange: string;
  readonly routingKey: string;
  /** Raw property flags and list, as received. */
  readonly properties: Buffer;
  readonly summary: PropertySummary;
  readonly body: Buffer;
  /** delivery-mode 2. */
  readonly persistent: boolean;
  /** When the broker received it (TTL deadlines count from here, across restarts). */
  readonly arrivedAtMs: number;
}

/** Where a stored message lives (a record in the message store). */
export interface StoredRef {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** One message's place in one queue. */
export interface QueueEntry {
  /** Order within its queue (the message id): requeued messages go back to this position. */
  readonly seq: number;
  readonly message: Message;
  /** Times delivered to a consumer (or fetched by basic.get); x-delivery-count is this minus one. */
  deliveryCount: number;
  /** Set once the message has been delivered and not acknowledged (AMQP redelivered flag). */
  redelivered: boolean;
  /** Absolute expiry from x-message-ttl or the expiration property; Infinity when none. */
  expiresAtMs: number;
  /** The stored record holding this queue's claim on the message, when there is one. */
  ref: StoredRef | undefined;
}

/** When the message's own expiration property makes it expire (undefined: it has none). */
export function ownExpiryMs(m: Message): number | undefined {
  const own = m.summary.expiration;
  return own === undefined ? undefined : m.arrivedAtMs + Number(own);
}

export function messageBytes(m: Message): number {
  return m.body.length;
}
