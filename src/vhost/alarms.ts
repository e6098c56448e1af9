/** The resources whose alarms block publishers (RabbitMQ's memory and disk alarms). */
export type AlarmResource = "memory" | "disk";

/**
 * Which resource alarms are set. While any is, publishing connections are blocked:
 * told with connection.blocked when they support it, and not read from, so
 * publishers wait on TCP backpressure while consumers keep draining (RabbitMQ's
 * flow control under resource alarms).
 */
export class AlarmState {
  private readonly active = new Set<AlarmResource>();

  get any(): boolean {
    return this.active.size > 0;
  }

  has(resource: AlarmResource): boolean {
    return this.active.has(resource);
  }

  list(): AlarmResource[] {
    return [...this.active].sort();
  }

  /** Returns whether anything changed. */
  set(resource: AlarmResource, on: boolean): boolean {
    if (on === this.active.has(resource)) return false;
    if (on) this.active.add(resource);
    else this.active.delete(resource);
    return true;
  }

  /** The reason in connection.blocked, in RabbitMQ's words. */
  get reason(): string {
    const m = this.active.has("memory");
    const d = this.active.has("disk");
    return m && d ? "low on memory & disk" : m ? "low on memory" : "low on disk";
  }
}

/** What `warrenctl status` shows about resources (RabbitMQ's file_descriptors and memory shapes). */
export interface ResourceStats {
  fdTotalLimit: number;
  fdTotalUsed: number;
  socketsLimit: number;
  /** Descriptors kept back from sockets for files, listeners and HTTP (runtime/descriptor-budget.ts). */
  fdReserved?: number;
  /** The reserve by part, as status shows it. */
  fdReserve?: Record<string, number>;
  socketsUsed: number;
  memoryUsedBytes: number;
  /** The memory alarm's threshold: the watermark, or V8's heap limit if lower. */
  memoryLimitBytes: number;
  /** Memory queue entries are charged for, and the budget beyond which queues page to disk. */
  queueMemoryUsedBytes: number;
  queueMemoryBudgetBytes: number;
  diskFreeBytes: number;
  diskFreeLimitBytes: number;
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

/**
 * A resource alarm: memory and disk as RabbitMQ's (publishers are blocked while
 * one is set); "message_store" is Warren's: the message log cannot write or sync,
 * so persistent publishes are nacked until it clears. Like RabbitMQ 3.x, running
 * out of descriptors is not an alarm: new connections are refused instead.
 */
export interface Alarm {
  readonly resource: "memory" | "disk" | "file_descriptor_limit" | "message_store";
  readonly node: string;
  readonly reason: string;
}
