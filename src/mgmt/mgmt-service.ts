import { AmqpConnection } from "../connection/amqp-connection.js";
import { allChecks } from "../doctor/doctor.js";
import { History } from "../doctor/history.js";
import { connectionEvent, takeSample } from "../doctor/sampler.js";
import type { StallHistory, TaskTimer } from "../doctor/stalls.js";
import type { Log } from "../log.js";
import type { QuorumAdmin } from "../quorum/quorum-admin.js";
import type { ListenAddress } from "../runtime/amqp-listener.js";
import type { Broker } from "../vhost/broker.js";
import { accessRoutes } from "./api/access-api.js";
import { definitionsDurable } from "./api/api-helpers.js";
import { bindingRoutes } from "./api/bindings-api.js";
import { clusterRoutes, type MembershipControl } from "./api/cluster-api.js";
import { connectionRoutes } from "./api/connections-api.js";
import { exchangeRoutes } from "./api/exchanges-api.js";
import { healthRoutes } from "./api/health-api.js";
import { limitRoutes } from "./api/limits-api.js";
import { nodeRoutes } from "./api/node-api.js";
import { policyPort, policyRoutes } from "./api/policies-api.js";
import { queueRoutes } from "./api/queues-api.js";
import { quorumRoutes } from "./api/quorum-api.js";
import { unroutableRoutes } from "./api/unroutable-api.js";
import { warrenRoutes } from "./api/warren-api.js";
import type { ClusterSource } from "./cluster-view.js";
import { authenticate, requireAccess } from "./http/auth.js";
import { HttpListener } from "./http/http-listener.js";
import { type HttpRequest, type HttpResponse, notFound } from "./http/http-types.js";
import { Router } from "./http/router.js";
import { metricsDispatch } from "./metrics/metrics-endpoint.js";
import {
  activeAlarms,
  type ListenerInfo,
  type NodeContext,
  type ResourceControl,
} from "./node-context.js";
import { ProcessProbe } from "./process-facts.js";

export interface MgmtOptions {
  /** HTTP management API port; 0 disables it. */
  readonly mgmtPort: number;
  /** Prometheus metrics port; 0 disables it. */
  readonly prometheusPort: number;
  /** Addresses to listen on (the AMQP listener's hosts). */
  readonly hosts: readonly string[];
  readonly dataDir: string;
  /** The AMQP side: its connections and bound addresses. */
  readonly amqp: {
    connections(): Iterable<AmqpConnection>;
    readonly bound: readonly ListenAddress[];
    /** The amqps (TLS) listeners' addresses, when TLS is configured. */
    readonly tlsBound?: readonly ListenAddress[];
  };
  /** Stops the node as SIGTERM does (warrenctl stop). */
  readonly requestStop: (reason: string) => void;
  /** How often the history takes a sample. */
  readonly sampleEveryMs?: number;
  /** The resource monitor, whose thresholds warrenctl may change. */
  readonly resources?: ResourceControl;
  /** The event loop's recent pauses, and the timer that names their causes. */
  readonly stalls?: StallHistory;
  readonly tasks?: TaskTimer;
  /** The cluster runtime's view of the cluster, when the node is a member of one. */
  readonly cluster?: ClusterSource;
  /** The cluster membership verbs (stop_app, reset, join_cluster, ...). */
  readonly membership?: MembershipControl;
  /** The quorum queues' status and membership verbs, when the node runs quorum queues. */
  readonly quorum?: QuorumAdmin;
}

/** Builds the management API's router over a node context. */
export function managementRouter(ctx: NodeContext): Router {
  const router = new Router();
  nodeRoutes(router, ctx, policyPort(ctx));
  queueRoutes(router, ctx);
  quorumRoutes(router, ctx);
  exchangeRoutes(router, ctx);
  bindingRoutes(router, ctx);
  connectionRoutes(router, ctx);
  accessRoutes(router, ctx);
  policyRoutes(router, ctx);
  limitRoutes(router, ctx);
  healthRoutes(router, ctx);
  unroutableRoutes(router, ctx);
  warrenRoutes(router, ctx, () =>
    allChecks(undefined, ctx.cluster !== undefined, ctx.quorum !== undefined),
  );
  clusterRoutes(router, ctx);
  return router;
}

/** Routes a request, authenticating and checking the user's tags as the route asks. */
export function managementDispatch(ctx: NodeContext, router: Router) {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const m = router.match(req.method, req.path);
    if (m.kind === "not-found") {
      if (req.method === "GET" && req.path === "/") {
        return { status: 200, body: "Warren management API: see /api/overview\n" };
      }
      throw notFound();
    }
    if (m.kind === "method-not-allowed") {
      return { status: 405, headers: { allow: m.allowed.join(", ") } };
    }
    let user: ReturnType<typeof authenticate> | undefined;
    if (m.route.access !== "none") {
      user = authenticate(ctx.broker, req);
      requireAccess(user, m.route.access);
    }
    const before = ctx.broker.definitionsVersion;
    const call = () => m.route.handler({ ...req, params: m.params, user });
    // The handler's synchronous part is timed: a stall it causes is blamed on the request.
    const response = await (ctx.tasks
      ? ctx.tasks.timed(() => `HTTP ${req.method} ${req.path} (user '${user?.name ?? "-"}')`, call)
      : call());
    // A 2xx for a change means the change survives a crash, as a declare-ok does: any
    // request that changed something durable is answered once definitions.json is saved.
    const after = ctx.broker.definitionsVersion;
    if (after !== before) await definitionsDurable(ctx, after);
    return response;
  };
}

/**
 * The management side of a node: the HTTP API (15672), the Prometheus endpoint
 * (15692), the history sampler the doctor and the rates read, and the connection
 * events it records. Started and stopped by the runtime.
 */
export class MgmtService {
  readonly history = new History();
  readonly context: NodeContext;
  private readonly probe: ProcessProbe;
  private api: HttpListener | undefined;
  private metrics: HttpListener | undefined;
  private sampler: NodeJS.Timeout | undefined;

  constructor(
    readonly broker: Broker,
    private readonly log: Log,
    private readonly options: MgmtOptions,
  ) {
    this.probe = new ProcessProbe(
      options.dataDir,
      () => broker.resources,
      broker.startedAtMs,
      broker.clock,
    );
    const connections = () => [...options.amqp.connections()];
    this.context = {
      broker,
      log,
      dataDir: options.dataDir,
      history: this.history,
      connections,
      listeners: () => this.listeners(),
      processFacts: () => this.probe.facts(),
      alarms: () => activeAlarms(broker),
      requestStop: options.requestStop,
      resources: options.resources,
      stalls: options.stalls,
      tasks: options.tasks,
      cluster: options.cluster,
      membership: options.membership,
      quorum: options.quorum,
    };
  }

  /**
   * Gives the management side the cluster's view once the cluster runtime runs (or takes it
   * away with undefined): routes, metrics and the doctor read it on every request.
   */
  attachCluster(cluster: ClusterSource | undefined): void {
    (this.context as { cluster?: ClusterSource }).cluster = cluster;
  }

  async start(): Promise<void> {
    this.probe.start();
    const b = this.broker;
    // Every connection the broker registers is an AMQP client's.
    b.connectionEvents.opened = (conn) => {
      if (conn instanceof AmqpConnection)
        this.history.recordConnection(connectionEvent("opened", conn, b.clock()));
    };
    b.connectionEvents.closed = (conn) => {
      if (conn instanceof AmqpConnection)
        this.history.recordConnection(connectionEvent("closed", conn, b.clock()));
    };
    this.sample();
    this.sampler = setInterval(() => this.sample(), this.options.sampleEveryMs ?? 5000);
    this.sampler.unref();
    const addresses = (port: number) => this.options.hosts.map((host) => ({ host, port }));
    if (this.options.mgmtPort !== 0) {
      const router = managementRouter(this.context);
      this.api = new HttpListener("http", managementDispatch(this.context, router), this.log);
      await this.api.listen(addresses(this.options.mgmtPort));
    }
    if (this.options.prometheusPort !== 0) {
      this.metrics = new HttpListener("http/prometheus", metricsDispatch(this.context), this.log);
      await this.metrics.listen(addresses(this.options.prometheusPort));
    }
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    this.probe.stop();
    await Promise.all([this.api?.close(), this.metrics?.close()]);
  }

  listeners(): ListenerInfo[] {
    const out: ListenerInfo[] = this.options.amqp.bound.map((a) => ({
      protocol: "amqp",
      host: a.host,
      port: a.port,
      purpose: "AMQP 0-9-1",
    }));
    for (const a of this.options.amqp.tlsBound ?? [])
      out.push({
        protocol: "amqp/ssl",
        host: a.host,
        port: a.port,
        purpose: "AMQP 0-9-1 over TLS",
      });
    for (const a of this.api?.bound ?? [])
      out.push({ protocol: "http", host: a.host, port: a.port, purpose: "HTTP API" });
    for (const a of this.metrics?.bound ?? [])
      out.push({
        protocol: "http/prometheus",
        host: a.host,
        port: a.port,
        purpose: "Prometheus exporter API over HTTP",
      });
    return out;
  }

  private sample(): void {
    const conns = this.context.connections();
    const fdUsed = this.probe.facts().fdUsed;
    this.history.record(takeSample(this.broker, this.broker.clock(), conns.length, fdUsed));
  }
}
