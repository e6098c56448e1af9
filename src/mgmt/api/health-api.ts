import { queueDeclareCommand } from "../../connection/methods/queue-methods.js";
import { AmqpError } from "../../protocol/amqp-error.js";
import { isQuorumCritical, METADATA_GROUP } from "../cluster-view.js";
import { type ApiRequest, badRequest, type HttpResponse, json } from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { knownAlarms, seenCluster } from "../views/cluster-view-json.js";
import { readableQueueName } from "../views/quorum-view.js";
import { httpRequester, pathVhost, refusalToHttp, withDirectChannel } from "./api-helpers.js";

const OK: HttpResponse = json({ status: "ok" });

function failed(body: Record<string, unknown>): HttpResponse {
  return json({ status: "failed", ...body }, 503);
}

/** Protocol names as RabbitMQ's protocol-listener check accepts them. */
function normaliseProtocol(p: string): string {
  const lower = p.toLowerCase();
  if (["amqp", "amqp091", "amqp0-9-1", "amqp0.9.1"].includes(lower)) return "amqp";
  if (lower === "prometheus" || lower === "http/prometheus") return "http/prometheus";
  if (["amqps", "amqp/ssl", "amqp091/ssl"].includes(lower)) return "amqp/ssl";
  return lower;
}

/** /api/aliveness-test/{vhost} and /api/health/checks/*, with RabbitMQ's answers. */
export function healthRoutes(router: Router, ctx: NodeContext): void {
  router.get("/api/aliveness-test/:vhost", "management", (req) => aliveness(ctx, req));
  // The cluster-wide check sees every member's alarms this node knows (its own on one node).
  const alarms =
    (reason: string, clusterWide = false) =>
    () => {
      const list = clusterWide ? knownAlarms(seenCluster(ctx)) : ctx.alarms();
      if (list.length === 0) return OK;
      return failed({
        reason,
        alarms: list.map((a) => ({ node: a.node, resource: a.resource, reason: a.reason })),
      });
    };
  router.get(
    "/api/health/checks/alarms",
    "management",
    alarms("There are alarms in effect in the cluster", true),
  );
  router.get(
    "/api/health/checks/local-alarms",
    "management",
    alarms("There are alarms in effect on the node"),
  );
  router.get("/api/health/checks/port-listener/:port", "management", (req) => {
    // RabbitMQ's binary_to_integer: digits with an optional sign, nothing else.
    if (!/^[+-]?\d+$/.test(req.params.port!)) throw badRequest("Invalid port");
    const port = Number(req.params.port);
    const ports = [...new Set(ctx.listeners().map((l) => l.port))].sort((a, b) => a - b);
    if (ports.includes(port)) return json({ status: "ok", port });
    return failed({ reason: "No active listener", missing: port, ports });
  });
  router.get("/api/health/checks/protocol-listener/:protocol", "management", (req) => {
    const wanted = normaliseProtocol(req.params.protocol!);
    const protocols = [...new Set(ctx.listeners().map((l) => l.protocol))];
    if (protocols.includes(wanted as never)) return json({ status: "ok", protocol: wanted });
    return failed({ reason: "No active listener", missing: wanted, protocols });
  });
  // Classic queues, no TLS, every vhost running: these hold by construction today; they
  // answer as RabbitMQ does so load balancers and probes can use them. A paused node (the
  // minority of a partition) fails those that say it serves clients, with why.
  router.get("/api/health/checks/node-is-mirror-sync-critical", "management", () => OK);
  router.get("/api/health/checks/node-is-quorum-critical", "management", () => quorumCritical(ctx));
  for (const path of [
    "virtual-hosts",
    "is-in-service",
    "below-node-connection-limit",
    "metadata-store/initialized",
  ]) {
    router.get(`/api/health/checks/${path}`, "management", () => unlessPaused(ctx) ?? OK);
  }
  // The expiry is checked as RabbitMQ checks it; the certificates themselves are not.
  router.get("/api/health/checks/certificate-expiration/:within/:unit", "management", (req) => {
    if (!/^[+-]?\d+$/.test(req.params.within!)) throw badRequest("Invalid expiration value.");
    if (!["days", "weeks", "months", "years"].includes(req.params.unit!.toLowerCase()))
      throw badRequest("Time unit not recognised. Supported units: days, weeks, months, years.");
    return OK;
  });
  router.get(
    "/api/health/checks/ready-to-serve-clients",
    "management",
    () =>
      unlessPaused(ctx) ??
      (ctx.listeners().some((l) => l.protocol === "amqp")
        ? OK
        : failed({ reason: "no AMQP listener is running" })),
  );
}

/**
 * RabbitMQ's node-is-quorum-critical: 503 when stopping this node would leave a Raft group
 * without its majority: the metadata store's (named as RabbitMQ 4 names Khepri's in this
 * answer) and each quorum queue's (QuorumAdmin.quorumCritical). A single node answers ok, as
 * RabbitMQ's does for a single node cluster.
 */
function quorumCritical(ctx: NodeContext): HttpResponse {
  const view = ctx.cluster?.view();
  if (!view) return OK;
  const queues: Record<string, string>[] = [];
  if (isQuorumCritical(view)) {
    queues.push({
      readable_name: METADATA_GROUP,
      name: METADATA_GROUP,
      virtual_host: "(not applicable)",
      type: "process",
    });
  }
  for (const q of ctx.quorum?.quorumCritical() ?? []) {
    queues.push({
      readable_name: readableQueueName(q.vhost, q.name),
      name: q.name,
      virtual_host: q.vhost,
      type: "quorum",
    });
  }
  if (queues.length === 0) return OK;
  return failed({
    reason: "There are quorum queues that would lose their quorum if the target node is shut down",
    queues,
  });
}

/** The 503 of a paused node (it closed its clients and takes no new ones), or undefined. */
function unlessPaused(ctx: NodeContext): HttpResponse | undefined {
  const reason = ctx.broker.pausedReason;
  return reason === undefined ? undefined : failed({ reason });
}

/**
 * RabbitMQ's aliveness test: declare the queue "aliveness-test" in the vhost,
 * publish a message to it and get it back, all as the requesting user.
 */
async function aliveness(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const vhost = pathVhost(ctx, req);
  const paused = unlessPaused(ctx);
  if (paused) return paused;
  try {
    await withDirectChannel(ctx, req, vhost.name, "amqp", async (ch) => {
      const request = {
        name: "aliveness-test",
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: new Map(),
      };
      try {
        await ctx.broker.submit(
          queueDeclareCommand(httpRequester(ctx, req, vhost), request, true, undefined),
        );
      } catch (e) {
        if (e instanceof AmqpError) throw refusalToHttp(e, "amqp");
        throw e;
      }
      const { routed } = await ch.publish(
        "",
        "aliveness-test",
        Buffer.from([0, 0]),
        Buffer.from("test_message"),
      );
      if (!routed) throw new Error("the test message was not routed");
      const got = await ch.call({ name: "basic.get", queue: "aliveness-test", noAck: true }, [
        "basic.get-ok",
        "basic.get-empty",
      ]);
      if (got.method.name !== "basic.get-ok") throw new Error("the test message did not come back");
    });
  } catch (e) {
    return failed({ reason: (e as Error).message });
  }
  return OK;
}
