import type { Permission } from "../../vhost/users.js";
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
import { parseTags, permissionView, userView, vhostView } from "../views/access-view.js";
import {
  addVhost,
  checkedPermission,
  clearPermission,
  deleteUser,
  deleteVhost,
  putUser,
  setPermission,
} from "./access-actions.js";
import { pathVhost, visibleVhosts } from "./api-helpers.js";

function permissionsList(ctx: NodeContext, filter: (vhost: string, user: string) => boolean) {
  const out: Record<string, unknown>[] = [];
  for (const [vhost, byUser] of ctx.broker.users.permissions) {
    for (const [user, p] of byUser)
      if (filter(vhost, user)) out.push(permissionView(user, vhost, p));
  }
  return out;
}

/**
 * A vhost body's default queue type: default_queue_type (RabbitMQ 3.11.17 and later),
 * or the management UI's older defaultqueuetype. "undefined", as RabbitMQ 3.13's UI
 * sends for none, leaves it unset.
 */
function defaultQueueTypeOf(body: Record<string, unknown>): string | undefined {
  const key = body.default_queue_type !== undefined ? "default_queue_type" : "defaultqueuetype";
  if (body[key] === undefined || body[key] === null) return undefined;
  const dqt = stringField(body, key);
  return dqt === "" || dqt === "undefined" ? undefined : dqt;
}

function permissionBody(req: ApiRequest): Permission {
  const body = jsonBody(req);
  return checkedPermission((k) => stringField(body, k));
}

/** /api/vhosts, /api/users, /api/permissions and /api/whoami. */
export function accessRoutes(router: Router, ctx: NodeContext): void {
  const b = ctx.broker;
  const node = b.settings.nodeName;
  router.get("/api/vhosts", "management", (req) =>
    listResponse(
      visibleVhosts(ctx, req.user!).map((v) => vhostView(v, node, ctx.connections())),
      req.query,
    ),
  );
  router.get("/api/vhosts/:vhost", "management", (req) =>
    json(vhostView(pathVhost(ctx, req), node, ctx.connections())),
  );
  router.put("/api/vhosts/:vhost", "administrator", async (req) => {
    const dqt = defaultQueueTypeOf(jsonBody(req));
    return (await addVhost(ctx, req.params.vhost!, req.user!.name, dqt)) ? CREATED : NO_CONTENT;
  });
  router.delete("/api/vhosts/:vhost", "administrator", async (req) => {
    if (!(await deleteVhost(ctx, req.params.vhost!, req.user!.name))) throw notFound();
    return NO_CONTENT;
  });
  router.get("/api/vhosts/:vhost/permissions", "administrator", (req) => {
    const vhost = pathVhost(ctx, req).name;
    return listResponse(
      permissionsList(ctx, (v) => v === vhost),
      req.query,
    );
  });

  router.get("/api/whoami", "management", (req) =>
    json({ name: req.user!.name, tags: req.user!.tags }),
  );
  router.get("/api/users", "administrator", (req) =>
    listResponse([...b.users.users.values()].map(userView), req.query),
  );
  router.get("/api/users/without-permissions", "administrator", (req) => {
    const withPerms = new Set(permissionsList(ctx, () => true).map((p) => p.user));
    return listResponse(
      [...b.users.users.values()].filter((u) => !withPerms.has(u.name)).map(userView),
      req.query,
    );
  });
  router.post("/api/users/bulk-delete", "administrator", async (req) => {
    const users = jsonBody(req).users;
    if (!Array.isArray(users) || users.some((u) => typeof u !== "string"))
      throw badRequest("users must be a list of names");
    for (const u of users) await deleteUser(ctx, u, req.user!.name);
    return NO_CONTENT;
  });
  router.get("/api/users/:user", "administrator", (req) => {
    const u = b.users.users.get(req.params.user!);
    if (!u) throw notFound();
    return json(userView(u));
  });
  router.put("/api/users/:user", "administrator", async (req) => {
    const body = jsonBody(req);
    const tags = parseTags(body.tags);
    const existing = b.users.users.get(req.params.user!);
    for (const key of ["password", "password_hash"]) {
      if (body[key] !== undefined && body[key] !== null) stringField(body, key);
    }
    let secret: Parameters<typeof putUser>[2];
    if (typeof body.password === "string") secret = { password: body.password };
    else if (typeof body.password_hash === "string")
      secret = {
        passwordHash: body.password_hash,
        hashingAlgorithm: stringField(body, "hashing_algorithm", "rabbit_password_hashing_sha256"),
      };
    // Changing only the tags keeps the password, as RabbitMQ does.
    else if (existing) secret = existing;
    else throw badRequest("password or password_hash must be set");
    const result = await putUser(ctx, req.params.user!, secret, tags, req.user!.name);
    return result === "created" ? CREATED : NO_CONTENT;
  });
  router.delete("/api/users/:user", "administrator", async (req) => {
    if (!(await deleteUser(ctx, req.params.user!, req.user!.name))) throw notFound();
    return NO_CONTENT;
  });
  router.get("/api/users/:user/permissions", "administrator", (req) => {
    if (!b.users.users.has(req.params.user!)) throw notFound();
    return listResponse(
      permissionsList(ctx, (_, u) => u === req.params.user),
      req.query,
    );
  });

  router.get("/api/permissions", "administrator", (req) =>
    listResponse(
      permissionsList(ctx, () => true),
      req.query,
    ),
  );
  router.get("/api/permissions/:vhost/:user", "administrator", (req) => {
    const p = b.users.permission(req.params.vhost!, req.params.user!);
    if (!p) throw notFound();
    return json(permissionView(req.params.user!, req.params.vhost!, p));
  });
  router.put("/api/permissions/:vhost/:user", "administrator", async (req) => {
    const vhost = req.params.vhost!;
    const user = req.params.user!;
    if (!b.vhosts.has(vhost)) throw badRequest(`vhost_not_found: '${vhost}'`);
    if (!b.users.users.has(user)) throw badRequest(`user_not_found: '${user}'`);
    const existed = b.users.permission(vhost, user) !== undefined;
    await setPermission(ctx, vhost, user, permissionBody(req), req.user!.name);
    return existed ? NO_CONTENT : CREATED;
  });
  router.delete("/api/permissions/:vhost/:user", "administrator", async (req) => {
    if (!(await clearPermission(ctx, req.params.vhost!, req.params.user!, req.user!.name)))
      throw notFound();
    return NO_CONTENT;
  });
}
