import type { HttpRequest, HttpResponse } from "../http/http-types.js";
import type { NodeContext } from "../node-context.js";
import { writeClusterGauges } from "./cluster-metrics.js";
import { EXPOSITION_CONTENT_TYPE, Exposition } from "./exposition.js";
import { writeQuorumGauges } from "./quorum-metrics.js";
import { writeRabbitMetrics } from "./rabbitmq-metrics.js";
import { writeWarrenMetrics } from "./warren-metrics.js";

/** The whole exposition: RabbitMQ's families, then Warren's. */
export function metricsText(ctx: NodeContext, perObject: boolean): string {
  const exp = new Exposition();
  // One snapshot of the quorum queues serves the Raft families and Warren's gauges.
  const quorum = ctx.quorum?.list();
  writeRabbitMetrics(exp, ctx, perObject, quorum ?? []);
  writeWarrenMetrics(exp, ctx, perObject);
  writeClusterGauges(exp, ctx);
  if (quorum) writeQuorumGauges(exp, ctx.broker.settings.nodeName, quorum);
  return exp.text();
}

/**
 * The Prometheus port (15692), as rabbitmq_prometheus serves it: /metrics with
 * aggregated families, /metrics/per-object with one sample per queue. No login,
 * as RabbitMQ's default.
 */
export function metricsDispatch(ctx: NodeContext) {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return { status: 405, headers: { allow: "GET, HEAD" } };
    }
    if (req.path === "/metrics" || req.path === "/metrics/per-object") {
      return {
        status: 200,
        headers: { "content-type": EXPOSITION_CONTENT_TYPE },
        body: metricsText(ctx, req.path === "/metrics/per-object"),
      };
    }
    if (req.path === "/") {
      return { status: 200, body: "Warren metrics: /metrics and /metrics/per-object\n" };
    }
    return { status: 404, body: "Not Found\n" };
  };
}
