import type { ApplyTo, Policy, PolicyKind } from "../../vhost/policies.js";
import { notAuthorised } from "../http/auth.js";
import {
  type ApiRequest,
  badRequest,
  CREATED,
  json,
  jsonBody,
  NO_CONTENT,
  notFound,
  stringField,
} from "../http/http-types.js";
import { listResponse } from "../http/list-query.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { pathVhost, submitChange, visibleVhosts } from "./api-helpers.js";
import type { PolicyPort } from "./node-api.js";

/** A policy as RabbitMQ's API and definitions files show it. */
export function policyJson(p: Policy): Record<string, unknown> {
  return {
    vhost: p.vhost,
    name: p.name,
    pattern: p.pattern,
    "apply-to": p.applyTo,
    definition: p.definition,
    priority: p.priority,
  };
}

/** A policy from RabbitMQ's JSON (priority may come as a string from rabbitmqadmin). */
export function policyFromJson(vhost: string, name: string, body: Record<string, unknown>): Policy {
  const definition = body.definition;
  if (definition === null || typeof definition !== "object" || Array.isArray(definition)) {
    throw badRequest("definition must be an object");
  }
  // A number, or a string of one (rabbitmqadmin); not [1], true or "".
  const raw = body.priority ?? 0;
  const priority = typeof raw === "number" || typeof raw === "string" ? Number(raw) : Number.NaN;
  if (!Number.isInteger(priority) || (typeof raw === "string" && raw.trim() === ""))
    throw badRequest("priority must be an integer");
  return {
    vhost,
    name,
    pattern: stringField(body, "pattern"),
    applyTo: stringField(body, "apply-to", "all") as ApplyTo,
    priority,
    definition: definition as Record<string, unknown>,
  };
}

/** Sets a policy (the policy.set command validates, applies and logs it); 400 when invalid. */
export async function setPolicy(
  ctx: NodeContext,
  kind: PolicyKind,
  p: Policy,
  byUser: string,
): Promise<void> {
  await submitChange(ctx, { type: "policy.set", kind, policy: p });
  ctx.log.info(
    { kind, vhost: p.vhost, policy: p.name, by: byUser },
    `policy change by user '${byUser}': ${kind} '${p.name}' in vhost '${p.vhost}' set`,
  );
}

/**
 * Who may read and change policies: policymakers and administrators (monitoring
 * users may read); operator policies are an administrator's, as in RabbitMQ.
 */
function requirePolicyAccess(req: ApiRequest, kind: PolicyKind, write: boolean): void {
  const allowed =
    kind === "operator_policy" && write
      ? ["administrator"]
      : write
        ? ["policymaker", "administrator"]
        : ["policymaker", "administrator", "monitoring"];
  if (!req.user!.tags.some((t) => allowed.includes(t))) {
    throw notAuthorised(allowed.length === 1 ? "Not administrator user" : "Not policymaker user");
  }
}

function routesFor(router: Router, ctx: NodeContext, kind: PolicyKind, base: string): void {
  const b = ctx.broker;
  const list = (req: ApiRequest) => {
    requirePolicyAccess(req, kind, false);
    const vhosts =
      req.params.vhost !== undefined
        ? [pathVhost(ctx, req).name]
        : visibleVhosts(ctx, req.user!).map((v) => v.name);
    return listResponse(
      vhosts.flatMap((v) => b.policies.list(kind, v).map(policyJson)),
      req.query,
    );
  };
  router.get(base, "management", list);
  router.get(`${base}/:vhost`, "management", list);
  router.get(`${base}/:vhost/:name`, "management", (req) => {
    requirePolicyAccess(req, kind, false);
    const p = b.policies.get(kind, pathVhost(ctx, req).name, req.params.name!);
    if (!p) throw notFound();
    return json(policyJson(p));
  });
  router.put(`${base}/:vhost/:name`, "management", async (req) => {
    requirePolicyAccess(req, kind, true);
    const vhost = pathVhost(ctx, req).name;
    const existed = b.policies.get(kind, vhost, req.params.name!) !== undefined;
    await setPolicy(
      ctx,
      kind,
      policyFromJson(vhost, req.params.name!, jsonBody(req)),
      req.user!.name,
    );
    return existed ? NO_CONTENT : CREATED;
  });
  router.delete(`${base}/:vhost/:name`, "management", async (req) => {
    requirePolicyAccess(req, kind, true);
    const vhost = pathVhost(ctx, req).name;
    const command = { type: "policy.clear", kind, vhost, name: req.params.name! } as const;
    if (!(await submitChange(ctx, command)).cleared) throw notFound();
    ctx.log.info(
      { kind, vhost, policy: req.params.name, by: req.user!.name },
      `policy change by user '${req.user!.name}': ${kind} '${req.params.name}' in vhost '${vhost}' cleared`,
    );
    return NO_CONTENT;
  });
}

/** /api/policies and /api/operator-policies (operator policies need an administrator to change). */
export function policyRoutes(router: Router, ctx: NodeContext): void {
  routesFor(router, ctx, "policy", "/api/policies");
  routesFor(router, ctx, "operator_policy", "/api/operator-policies");
}

/** How definitions export and import policies. */
export function policyPort(ctx: NodeContext): PolicyPort {
  return {
    exportAll: (vhost) => ctx.broker.policies.list("policy", vhost).map(policyJson),
    importer: async (policies, intoVhost) => {
      for (const p of policies) {
        const vhost = intoVhost ?? stringField(p, "vhost", "/");
        await setPolicy(
          ctx,
          "policy",
          policyFromJson(vhost, stringField(p, "name"), p),
          "definitions import",
        );
      }
    },
  };
}
