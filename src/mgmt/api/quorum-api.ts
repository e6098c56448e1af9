/**
 * RabbitMQ's quorum queue replica endpoints (RabbitMQ 4's paths) and Warren's quorum_status,
 * over the quorum runtime's QuorumAdmin (quorum/quorum-admin.ts), for warrenctl's
 * rabbitmq-queues verbs:
 *
 * - POST   /api/queues/quorum/{vhost}/{name}/replicas/add     {"node"}: 204, as RabbitMQ
 * - DELETE /api/queues/quorum/{vhost}/{name}/replicas/delete  {"node"}: 202, as RabbitMQ
 * - POST   /api/queues/quorum/replicas/on/{node}/grow  {"strategy","vhost_pattern","queue_pattern"}
 * - DELETE /api/queues/quorum/replicas/on/{node}/shrink
 * - POST   /api/rebalance/queues  {"type","vhost_pattern","queue_pattern"} (all optional)
 * - GET    /api/warren/quorum-status/{vhost}/{name}  (RabbitMQ's API has none)
 *
 * RabbitMQ answers grow and rebalance with 204 and shrink with an empty 202, and does the work
 * in the background; Warren waits for the result and answers 200 (202 for shrink) with each
 * queue's outcome, which warrenctl prints as rabbitmq-queues does. A refusal of add or delete
 * is RabbitMQ's 503 with the reason (classic_queue_not_supported, node_not_running, ...).
 */
import type { QuorumAdmin, QuorumChangeResult } from "../../quorum/quorum-admin.js";
import {
  type ApiRequest,
  badRequest,
  HttpError,
  type HttpResponse,
  json,
  jsonBody,
  NO_CONTENT,
  notFound,
} from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { changeResultJson, quorumStatusJson, readableQueueName } from "../views/quorum-view.js";
import { pathQueue } from "./api-helpers.js";

/** Without a quorum runtime every queue is classic: RabbitMQ's answer for a classic queue. */
const NO_QUORUM: QuorumAdmin = {
  list: () => [],
  status: () => undefined,
  addMember: async (vhost, name) => classic(vhost, name),
  deleteMember: async (vhost, name) => classic(vhost, name),
  grow: async () => [],
  shrink: async () => [],
  rebalance: async () => [],
  quorumCritical: () => [],
};

function classic(vhost: string, name: string): QuorumChangeResult {
  return { vhost, name, ok: false, result: "classic_queue_not_supported" };
}

function adminOf(ctx: NodeContext): QuorumAdmin {
  return ctx.quorum ?? NO_QUORUM;
}

export function quorumRoutes(router: Router, ctx: NodeContext): void {
  router.get("/api/warren/quorum-status/:vhost/:name", "monitoring", (req) => {
    const q = pathQueue(ctx, req);
    const status = adminOf(ctx).status(q.definition.vhost, q.name);
    if (!status) {
      throw badRequest(
        `classic_queue_not_supported: ${readableQueueName(q.definition.vhost, q.name)} is not a quorum queue`,
      );
    }
    return json(quorumStatusJson(status, ctx.broker.settings.nodeName));
  });
  router.post("/api/queues/quorum/:vhost/:name/replicas/add", "administrator", (req) =>
    memberChange(ctx, req, (a, vhost, name, node) => a.addMember(vhost, name, node), NO_CONTENT),
  );
  router.delete("/api/queues/quorum/:vhost/:name/replicas/delete", "administrator", (req) =>
    memberChange(ctx, req, (a, vhost, name, node) => a.deleteMember(vhost, name, node), {
      status: 202,
    }),
  );
  router.post("/api/queues/quorum/replicas/on/:node/grow", "administrator", async (req) => {
    const node = req.params.node!;
    if (!isRunningMember(ctx, node)) throw notFound();
    const body = jsonBody(req);
    const strategy = stringOr(body, "strategy", "all");
    if (strategy !== "all" && strategy !== "even")
      throw badRequest(`strategy '${strategy}' is not recognised.`);
    const results = await adminOf(ctx).grow(
      node,
      strategy,
      pattern(body, "vhost_pattern"),
      pattern(body, "queue_pattern"),
    );
    return json(outcomes(ctx, results));
  });
  router.delete("/api/queues/quorum/replicas/on/:node/shrink", "administrator", async (req) => {
    const results = await adminOf(ctx).shrink(req.params.node!);
    return json(outcomes(ctx, results), 202);
  });
  router.post("/api/rebalance/queues", "administrator", async (req) => {
    const body = jsonBody(req);
    const type = stringOr(body, "type", "all");
    if (!["all", "classic", "quorum"].includes(type))
      throw badRequest(`type ${type} is not supported. Try one of all, classic, quorum.`);
    const vhostPattern = pattern(body, "vhost_pattern");
    const queuePattern = pattern(body, "queue_pattern");
    ctx.log.info(
      { by: req.user!.name },
      `User '${req.user!.name}' has initiated a queue rebalance`,
    );
    // Classic queues are not replicated: only quorum queues have leaders to move.
    const results =
      type === "classic" ? [] : await adminOf(ctx).rebalance(vhostPattern, queuePattern);
    return json({
      results: outcomes(ctx, results),
      summary: leadersPerNode(ctx, vhostPattern, queuePattern),
    });
  });
}

async function memberChange(
  ctx: NodeContext,
  req: ApiRequest,
  run: (a: QuorumAdmin, vhost: string, name: string, node: string) => Promise<QuorumChangeResult>,
  done: HttpResponse,
): Promise<HttpResponse> {
  const q = pathQueue(ctx, req);
  const node = jsonBody(req).node;
  if (typeof node !== "string" || node.trim() === "")
    throw badRequest("node must be a node name (warren@host)");
  const r = await run(adminOf(ctx), q.definition.vhost, q.name, node.trim());
  if (!r.ok) throw new HttpError(503, "service_unavailable", r.result);
  return done;
}

/** A regular expression over vhost or queue names (RabbitMQ's default: every name). */
function pattern(body: Record<string, unknown>, key: string): string {
  const p = stringOr(body, key, ".*");
  try {
    new RegExp(p);
  } catch (e) {
    throw badRequest(`${key} is not a regular expression: ${(e as Error).message}`);
  }
  return p;
}

function stringOr(body: Record<string, unknown>, key: string, fallback: string): string {
  const v = body[key];
  if (v === undefined || v === null || v === "") return fallback;
  if (typeof v !== "string") throw badRequest(`${key} must be a string`);
  return v;
}

/** RabbitMQ grows only onto a running member of the cluster (404 otherwise). */
function isRunningMember(ctx: NodeContext, node: string): boolean {
  const self = ctx.broker.settings.nodeName;
  if (node === self) return true;
  return ctx.cluster?.view().members.some((m) => m.name === node && m.reachable) ?? false;
}

/** Each queue's outcome, with its membership count now where the runtime did not say it. */
function outcomes(ctx: NodeContext, results: readonly QuorumChangeResult[]) {
  const admin = adminOf(ctx);
  return results.map((r) => changeResultJson(r, admin.status(r.vhost, r.name)?.members.length));
}

/**
 * rabbitmq-queues rebalance's summary: per node, the quorum queues (of those matched) it leads.
 * Every member node is listed, a node leading none with 0.
 */
function leadersPerNode(ctx: NodeContext, vhostPattern: string, queuePattern: string) {
  const vhostRe = new RegExp(vhostPattern);
  const queueRe = new RegExp(queuePattern);
  const counts = new Map<string, number>();
  for (const s of adminOf(ctx).list()) {
    if (!vhostRe.test(s.vhost) || !queueRe.test(s.name)) continue;
    for (const m of s.members) if (!counts.has(m)) counts.set(m, 0);
    if (s.leader !== null) counts.set(s.leader, (counts.get(s.leader) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, leaders]) => ({ node, quorum_leaders: leaders }));
}
