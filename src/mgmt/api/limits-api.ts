import { limitsByRabbitName, USER_LIMIT_NAMES, VHOST_LIMIT_NAMES } from "../../vhost/limits.js";
import type { User } from "../../vhost/users.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import {
  type ApiRequest,
  badRequest,
  json,
  jsonBody,
  NO_CONTENT,
  notFound,
} from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { listedVhosts, pathVhost, submitChange } from "./api-helpers.js";

type Names = Readonly<Record<string, string>>;

/**
 * A limit's value as RabbitMQ validates it: a known name and an integer (a
 * negative one means no limit). rabbitmqadmin and some tools send numbers as strings.
 */
export function limitValue(names: Names, what: string, name: string, value: unknown): number {
  if (!Object.hasOwn(names, name)) {
    throw badRequest(
      `Validation failed\n\nUnrecognised terms [{<<"${name}">>,${JSON.stringify(value)}}] in ${what}\n`,
    );
  }
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw badRequest(
      `Validation failed\n\n${name} should be an integer, got ${JSON.stringify(value)}\n`,
    );
  }
  return n;
}

/** Sets (or, with undefined, clears) one vhost limit (the vhost.set-limit command) and logs it. */
export async function setVhostLimit(
  ctx: NodeContext,
  vhost: VirtualHost,
  name: keyof typeof VHOST_LIMIT_NAMES,
  value: number | undefined,
  byUser: string,
): Promise<void> {
  await submitChange(ctx, { type: "vhost.set-limit", vhost: vhost.name, limit: name, value });
  ctx.log.info(
    { vhost: vhost.name, limit: name, value: value ?? null, by: byUser },
    value === undefined
      ? `Clearing vhost limit '${name}' for vhost '${vhost.name}' (by user '${byUser}')`
      : `Setting vhost limit '${name}' to ${value} for vhost '${vhost.name}' (by user '${byUser}')`,
  );
}

/** Sets (or, with undefined, clears) one user limit (the user.set-limit command) and logs it. */
export async function setUserLimit(
  ctx: NodeContext,
  user: User,
  name: keyof typeof USER_LIMIT_NAMES,
  value: number | undefined,
  byUser: string,
): Promise<void> {
  await submitChange(ctx, { type: "user.set-limit", user: user.name, limit: name, value });
  ctx.log.info(
    { user: user.name, limit: name, value: value ?? null, by: byUser },
    value === undefined
      ? `Clearing user limit '${name}' for user '${user.name}' (by user '${byUser}')`
      : `Setting user limit '${name}' to ${value} for user '${user.name}' (by user '${byUser}')`,
  );
}

/** A vhost's limits as /api/vhost-limits lists them: {"vhost": "/", "value": {...}}. */
export function vhostLimitsJson(v: VirtualHost): Record<string, unknown> | undefined {
  const value = limitsByRabbitName(v.limits, VHOST_LIMIT_NAMES);
  return Object.keys(value).length > 0 ? { vhost: v.name, value } : undefined;
}

function userLimitsJson(u: User): Record<string, unknown> | undefined {
  const value = limitsByRabbitName(u.limits, USER_LIMIT_NAMES);
  return Object.keys(value).length > 0 ? { user: u.name, value } : undefined;
}

function pathUser(ctx: NodeContext, req: ApiRequest): User {
  const user = ctx.broker.users.users.get(req.params.user ?? "");
  if (!user) throw notFound();
  return user;
}

function bodyValue(req: ApiRequest): unknown {
  const body = jsonBody(req);
  if (!("value" in body)) throw badRequest('value is required, as in {"value": 10}');
  return body.value;
}

/**
 * RabbitMQ's /api/vhost-limits (listing needs access to the vhost; changing needs an
 * administrator) and /api/user-limits (administrator): PUT {"value": n} sets one
 * limit, DELETE clears it; lists leave out vhosts and users without limits.
 */
export function limitRoutes(router: Router, ctx: NodeContext): void {
  const listVhosts = (req: ApiRequest) =>
    json(listedVhosts(ctx, req).flatMap((v) => vhostLimitsJson(v) ?? []));
  router.get("/api/vhost-limits", "management", listVhosts);
  router.get("/api/vhost-limits/:vhost", "management", listVhosts);
  router.put("/api/vhost-limits/:vhost/:name", "administrator", async (req) => {
    const vhost = pathVhost(ctx, req);
    const name = req.params.name!;
    const value = limitValue(VHOST_LIMIT_NAMES, "limits", name, bodyValue(req));
    await setVhostLimit(ctx, vhost, name as keyof typeof VHOST_LIMIT_NAMES, value, req.user!.name);
    return NO_CONTENT;
  });
  router.delete("/api/vhost-limits/:vhost/:name", "administrator", async (req) => {
    const vhost = pathVhost(ctx, req);
    const name = req.params.name! as keyof typeof VHOST_LIMIT_NAMES;
    if (vhost.limits[VHOST_LIMIT_NAMES[name]] === undefined) throw notFound();
    await setVhostLimit(ctx, vhost, name, undefined, req.user!.name);
    return NO_CONTENT;
  });

  router.get("/api/user-limits", "administrator", () =>
    json(
      [...ctx.broker.users.users.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((u) => userLimitsJson(u) ?? []),
    ),
  );
  router.get("/api/user-limits/:user", "administrator", (req) =>
    json([userLimitsJson(pathUser(ctx, req))].flatMap((l) => l ?? [])),
  );
  router.put("/api/user-limits/:user/:name", "administrator", async (req) => {
    const user = pathUser(ctx, req);
    const name = req.params.name!;
    const value = limitValue(USER_LIMIT_NAMES, "user limits", name, bodyValue(req));
    await setUserLimit(ctx, user, name as keyof typeof USER_LIMIT_NAMES, value, req.user!.name);
    return NO_CONTENT;
  });
  router.delete("/api/user-limits/:user/:name", "administrator", async (req) => {
    const user = pathUser(ctx, req);
    const name = req.params.name! as keyof typeof USER_LIMIT_NAMES;
    if (user.limits?.[USER_LIMIT_NAMES[name]] === undefined) throw notFound();
    await setUserLimit(ctx, user, name, undefined, req.user!.name);
    return NO_CONTENT;
  });
}
