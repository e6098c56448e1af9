/**
 * Where a broker's time and randomness come from. Nothing under src/vhost, src/connection,
 * src/routing or src/queue reads a clock or draws random bytes itself (the lint forbids it):
 * the runtime passes the system's (runtime/system-sources.ts), and a test or a simulation
 * passes its own, so a seeded run of a whole broker replays exactly.
 */
export interface BrokerSources {
  /** Milliseconds since the epoch (Date.now's meaning). */
  readonly clock: () => number;
  /** `size` random bytes: server-named queues, consumer tags, reply-to keys, password salts. */
  readonly randomBytes: (size: number) => Buffer;
}

/** A random name with RabbitMQ's shape: a prefix and 16+ random bytes in base64url. */
export function randomName(sources: BrokerSources, prefix: string, bytes = 16): string {
  return `${prefix}${sources.randomBytes(bytes).toString("base64url")}`;
}
