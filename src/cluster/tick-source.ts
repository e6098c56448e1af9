/**
 * Where a Raft driver's logical time comes from. The core counts time in ticks (election
 * timeouts and heartbeats are so many ticks, raft-options.ts), so the driver never reads a
 * clock or sets a timer: the simulator ticks it from its event queue at each node's own rate,
 * the runtime from a timer. A process that was paused may miss ticks; that is only slower.
 */
export interface TickSource {
  /** Calls onTick once per tick period until stop() is called. */
  start(onTick: () => void): void;
  stop(): void;
}
