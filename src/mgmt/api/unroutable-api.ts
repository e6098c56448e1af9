import { notAuthorised } from "../http/auth.js";
import { type ApiRequest, badRequest, json, jsonBody, NO_CONTENT } from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { listedVhosts, pathVhost, submitChange } from "./api-helpers.js";

/**
 * Beyond RabbitMQ: unroutable messages counted per vhost, and their capture into a named
 * queue turned on or off by an operator, without touching the applications that publish
 * them (warrenctl set_unroutable_capture). Changing it takes a policymaker, as policies do.
 */
export function unroutableRoutes(router: Router, ctx: NodeContext): void {
  const list = (req: ApiRequest) =>
    json(
      listedVhosts(ctx, req).map((v) => ({
        vhost: v.name,
        capture_queue: v.unroutableQueue ?? null,
        unroutable: v.unroutable,
      })),
    );
  router.get("/api/warren/unroutable", "management", list);
  router.get("/api/warren/unroutable/:vhost", "management", list);
  router.put("/api/warren/unroutable/:vhost", "management", async (req) => {
    requirePolicymaker(req);
    const vhost = pathVhost(ctx, req).name;
    const queue = jsonBody(req).capture_queue;
    if (typeof queue !== "string" || queue === "")
      throw badRequest('expected {"capture_queue": "<queue name>"}');
    await setCapture(ctx, req, vhost, queue);
    return NO_CONTENT;
  });
  router.delete("/api/warren/unroutable/:vhost", "management", async (req) => {
    requirePolicymaker(req);
    await setCapture(ctx, req, pathVhost(ctx, req).name, undefined);
    return NO_CONTENT;
  });
}

function requirePolicymaker(req: ApiRequest): void {
  if (!req.user!.tags.some((t) => t === "policymaker" || t === "administrator"))
    throw notAuthorised("Not policymaker user");
}

/** The vhost.set-unroutable-capture command (400 when the queue does not exist), logged with who asked. */
async function setCapture(
  ctx: NodeContext,
  req: ApiRequest,
  vhost: string,
  queue: string | undefined,
): Promise<void> {
  const command = { type: "vhost.set-unroutable-capture", vhost } as const;
  await submitChange(ctx, queue === undefined ? command : { ...command, queue });
  ctx.log.info(
    { vhost, queue, by: req.user!.name },
    `unroutable capture change by user '${req.user!.name}' in vhost '${vhost}': ${queue === undefined ? "off" : `queue '${queue}'`}`,
  );
}
