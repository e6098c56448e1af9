import type { AmqpConnection } from "../connection/amqp-connection.js";
import type { History } from "../doctor/history.js";
import type { StallHistory, TaskTimer } from "../doctor/stalls.js";
import type { Log } from "../log.js";
import type { QuorumAdmin } from "../quorum/quorum-admin.js";
import type { MemoryWatermark, ResourceLimits } from "../runtime/resource-monitor.js";
import type { Alarm } from "../vhost/alarms.js";
import type { Broker } from "../vhost/broker.js";
import type { MembershipControl } from "./api/cluster-api.js";
import type { ClusterSource } from "./cluster-view.js";
import type { ProcessFacts } from "./process-facts.js";

export type { ClusterMember, ClusterSource, ClusterView, RaftGroupView } from "./cluster-view.js";
export type { Alarm };

/** A listening socket as status and /api/overview list them. */
export interface ListenerInfo {
  readonly protocol: "amqp" | "amqp/ssl" | "http" | "http/prometheus";
  readonly host: string;
  readonly port: number;
  readonly purpose: string;
}

/** Every alarm in effect on this node now. */
export function activeAlarms(broker: Broker): Alarm[] {
  const node = broker.settings.nodeName;
  const r = broker.resources;
  const storeAlarm = broker.store?.alarm;
  // The disk alarm is also set while the message store cannot write (segment log ENOSPC).
  const spaceLow = r !== undefined && r.diskFreeBytes < r.diskFreeLimitBytes;
  const alarms: Alarm[] = broker.alarms.list().map((resource) => ({
    resource,
    node,
    reason:
      resource === "memory"
        ? `memory used ${r?.memoryUsedBytes ?? "?"} bytes, above the high watermark of ${r?.memoryLimitBytes ?? "?"} bytes`
        : storeAlarm && !spaceLow
          ? storeAlarm
          : `free disk space ${r?.diskFreeBytes ?? "?"} bytes, below the limit of ${r?.diskFreeLimitBytes ?? "?"} bytes`,
  }));
  if (storeAlarm) {
    alarms.push({ resource: "message_store", node, reason: storeAlarm });
  }
  return alarms;
}

/**
 * The resource alarm thresholds, changeable while the node runs
 * (set_vm_memory_high_watermark, set_disk_free_limit); the runtime's resource monitor.
 */
export interface ResourceControl {
  readonly limits: Readonly<ResourceLimits>;
  setMemoryHighWatermark(watermark: MemoryWatermark): void;
  setDiskFreeLimit(bytes: number): void;
}

/**
 * What the management API, the metrics and the doctor read about the running
 * node. The runtime provides it; handlers stay free of sockets and timers.
 */
export interface NodeContext {
  readonly broker: Broker;
  readonly log: Log;
  readonly dataDir: string;
  readonly history: History;
  /** Every AMQP connection with a socket, including those still in the handshake or closing. */
  connections(): AmqpConnection[];
  listeners(): ListenerInfo[];
  processFacts(): ProcessFacts;
  alarms(): Alarm[];
  /** Asks the runtime to stop the node (warrenctl stop): as SIGTERM does. */
  requestStop(reason: string): void;
  /** The resource monitor's thresholds, when the node runs one. */
  readonly resources?: ResourceControl;
  /** The event loop's recent pauses and their causes, when the runtime watches them. */
  readonly stalls?: StallHistory;
  /** Times request handling, so a stall can name the request that caused it. */
  readonly tasks?: TaskTimer;
  /**
   * The cluster this node is part of (cluster-view.ts), provided by the cluster runtime;
   * absent on a single node, whose outputs then show a one-node cluster of itself.
   */
  readonly cluster?: ClusterSource;
  /** stop_app, start_app, reset, join_cluster, forget_cluster_node (api/cluster-api.ts). */
  readonly membership?: MembershipControl;
  /**
   * The quorum queues as this node sees them, and RabbitMQ's rabbitmq-queues verbs over them
   * (quorum/quorum-admin.ts), provided by the quorum queue runtime; absent: no quorum queues.
   */
  readonly quorum?: QuorumAdmin;
}

export function nodeName(ctx: NodeContext): string {
  return ctx.broker.settings.nodeName;
}
