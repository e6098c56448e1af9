import { formatHost } from "../../runtime/amqp-listener.js";
import { heapLimitBytes } from "../../runtime/resource-monitor.js";
import { PRODUCT, VERSION } from "../../version.js";
import type { NodeContext } from "../node-context.js";
import { type Json, RABBITMQ_API_VERSION } from "./format.js";
import { fileDescriptors, PURPOSES, queueTotals } from "./node-view.js";

/**
 * GET /api/warren/status: what `warrenctl status` prints, with the keys of
 * `rabbitmqctl status --formatter json` (so scripts written for RabbitMQ find
 * file_descriptors, memory, alarms, listeners, uptime), plus Warren's own:
 * event-loop delay and every limit with its value (DESIGN §3.3).
 */
export function statusView(ctx: NodeContext): Json {
  const b = ctx.broker;
  const f = ctx.processFacts();
  const t = queueTotals(ctx);
  const s = b.settings;
  const node = s.nodeName;
  const m = f.memory;
  return {
    pid: f.pid,
    node,
    os: process.platform === "linux" ? "Linux" : process.platform,
    rabbitmq_version: RABBITMQ_API_VERSION,
    product_name: PRODUCT,
    product_version: VERSION,
    erlang_version: `Node.js ${process.version}`,
    uptime: Math.floor(f.uptimeMs / 1000),
    is_under_maintenance: false,
    // Warren: false between `warrenctl stop_app` and `start_app` (the process and this API run).
    app_running: ctx.membership?.appStoppedReason() === undefined,
    data_directory: ctx.dataDir,
    log_files: ["<stdout>"],
    config_files: [],
    alarms: ctx.alarms().map((a) => ({ resource: a.resource, node: a.node, reason: a.reason })),
    listeners: ctx.listeners().map((l) => ({
      interface: formatHost(l.host),
      node,
      port: l.port,
      protocol: l.protocol,
      purpose: l.purpose || PURPOSES[l.protocol],
    })),
    memory: {
      total: { rss: m.rss },
      strategy: "rss",
      heap_used: m.heapUsed,
      heap_total: m.heapTotal,
      external: m.external,
      array_buffers: m.arrayBuffers,
      queue_messages: t.bytesRam,
      queue_index: t.indexBytes,
      // Warren: what queue entries are charged in memory, and the budget beyond which they page to disk.
      queue_entries_charged: b.memory.usedBytes,
      queue_entries_budget: b.memory.limitBytes,
      heap_limit: heapLimitBytes(),
    },
    vm_memory_calculation_strategy: "rss",
    // RabbitMQ's shape: {"relative": 0.4} or {"absolute": bytes}.
    vm_memory_high_watermark_setting: ctx.resources?.limits.memoryHighWatermark,
    vm_memory_high_watermark_limit: f.memoryLimitBytes,
    disk_free: f.diskFreeBytes,
    disk_free_limit: f.diskFreeLimitBytes,
    file_descriptors: fileDescriptors(ctx),
    // Warren: pauses of the event loop of 100 ms or more since the start, and the latest ones.
    event_loop_stalls: {
      count: ctx.stalls?.count ?? 0,
      longest_ms: ctx.stalls?.worstMs ?? 0,
      recent: (ctx.stalls?.since(0) ?? []).slice(-10).map((s) => ({
        at: new Date(s.atMs).toISOString(),
        duration_ms: s.durationMs,
        cpu_ms: s.cpuMs,
        during: s.during,
      })),
    },
    chores: b.chores.describe(),
    event_loop_delay_ms: {
      mean: round(f.eventLoopDelay.meanMs),
      p50: round(f.eventLoopDelay.p50Ms),
      p99: round(f.eventLoopDelay.p99Ms),
      max: round(f.eventLoopDelay.maxMs),
    },
    totals: {
      virtual_host_count: b.vhosts.size,
      connection_count: ctx.connections().length,
      queue_count: t.queues,
    },
    limits: {
      heartbeat_sec: s.heartbeatSec,
      frame_max: s.frameMax,
      channel_max: s.channelMax,
      max_message_size: s.maxMessageBytes,
      handshake_timeout_ms: s.handshakeTimeoutMs,
      output_high_water_bytes: s.outputHighWaterBytes,
      consumer_timeout_ms: s.consumerTimeoutMs,
      max_connections: s.maxConnections,
      tcp_keepalive_sec: s.tcpKeepaliveSec,
      vm_memory_high_watermark_bytes: f.memoryLimitBytes,
      disk_free_limit_bytes: f.diskFreeLimitBytes,
      loopback_users: s.loopbackUsers,
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
