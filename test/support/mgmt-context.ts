import type { AmqpConnection } from "../../src/connection/amqp-connection.js";
import { History } from "../../src/doctor/history.js";
import { silentLog } from "../../src/log.js";
import { managementDispatch, managementRouter } from "../../src/mgmt/mgmt-service.js";
import { activeAlarms, type NodeContext } from "../../src/mgmt/node-context.js";
import type { ProcessFacts } from "../../src/mgmt/process-facts.js";
import { systemSources } from "../../src/runtime/system-sources.js";
import { MemoryMessageStore } from "../../src/store/memory-message-store.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";

/** A broker with a memory store and the default vhost and user, for in-process tests. */
export function memoryBroker(
  clock: () => number = Date.now,
  store = new MemoryMessageStore(),
): Broker {
  store.recover(new Set());
  const broker = new Broker(
    DEFAULT_SETTINGS,
    silentLog,
    { ...systemSources, clock },
    {
      store,
      saveDefinitions: () => {},
      schedule: (fn) => fn(),
    },
  );
  broker.bootstrapDefaults();
  return broker;
}

export const FIXED_FACTS: ProcessFacts = {
  pid: 4242,
  fdUsed: 40,
  fdLimit: 1024,
  memory: { rss: 50e6, heapTotal: 20e6, heapUsed: 10e6, external: 1e6, arrayBuffers: 5e5 },
  totalSystemMemoryBytes: 8e9,
  memoryLimitBytes: 4.8e9,
  diskFreeLimitBytes: 5e7,
  processors: 2,
  diskFreeBytes: 5e10,
  eventLoopDelay: { meanMs: 0.5, p50Ms: 0.4, p99Ms: 2, maxMs: 3 },
  uptimeMs: 12_000,
  startedAtMs: 0,
};

/** A NodeContext over an in-process broker: fixed process facts, its connections, no sockets. */
export function testContext(
  broker: Broker,
  facts: Partial<ProcessFacts> = {},
): NodeContext & { history: History; stopRequests: string[] } {
  const stopRequests: string[] = [];
  return {
    broker,
    log: silentLog,
    dataDir: "/var/lib/warren",
    history: new History(),
    connections: () => [...broker.connections] as AmqpConnection[],
    listeners: () => [
      { protocol: "amqp", host: "127.0.0.1", port: 5672, purpose: "AMQP 0-9-1" },
      { protocol: "http", host: "127.0.0.1", port: 15672, purpose: "HTTP API" },
    ],
    processFacts: () => ({ ...FIXED_FACTS, ...facts }),
    alarms: () => activeAlarms(broker),
    requestStop: (reason) => stopRequests.push(reason),
    stopRequests,
    resources: {
      limits: { memoryHighWatermark: { relative: 0.6 }, diskFreeLimitBytes: 50_000_000 },
      setMemoryHighWatermark(w) {
        (this.limits as { memoryHighWatermark: unknown }).memoryHighWatermark = w;
      },
      setDiskFreeLimit(bytes) {
        (this.limits as { diskFreeLimitBytes: number }).diskFreeLimitBytes = bytes;
      },
    },
  };
}

/** Sends one request through the management router as `user` (guest by default). */
export function requester(ctx: NodeContext) {
  const dispatch = managementDispatch(ctx, managementRouter(ctx));
  return async (
    method: string,
    path: string,
    body?: unknown,
    user: [string, string] | null = ["guest", "guest"],
  ) => {
    const url = new URL(path, "http://localhost");
    const headers: Record<string, string> = {};
    if (user) headers.authorization = `Basic ${Buffer.from(user.join(":")).toString("base64")}`;
    return dispatch({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: Buffer.from(body === undefined ? "" : JSON.stringify(body)),
      peerAddress: "127.0.0.1",
    });
  };
}
