/**
 * rabbitmqctl's cluster membership verbs over HTTP, for warrenctl: stop_app, start_app,
 * reset, join_cluster, forget_cluster_node (docs/CLUSTER.md, "Growing and shrinking a
 * cluster"). Each answers with the text warrenctl prints; a verb that cannot be done now
 * (reset while the app runs, forget of a running node) answers 409 with why and what to do.
 */
import { badRequest, HttpError, json, jsonBody } from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";

/** What the runtime does for these verbs (WarrenNode's AppControl and cluster runtime). */
export interface MembershipControl {
  stopApp(by: string): Promise<string>;
  startApp(by: string): Promise<string>;
  reset(by: string): Promise<string>;
  joinCluster(node: string, by: string): Promise<string>;
  forgetClusterNode(node: string, by: string): Promise<string>;
  /** Why the app is stopped, or undefined while it runs. */
  appStoppedReason(): string | undefined;
  /** Whether an error is a refusal to report as 409 (anything else is a 500). */
  isRefusal(e: unknown): boolean;
}

export function clusterRoutes(router: Router, ctx: NodeContext): void {
  const verb = (
    path: string,
    run: (m: MembershipControl, body: Record<string, unknown>, by: string) => Promise<string>,
  ) =>
    router.post(path, "administrator", async (req) => {
      const control = ctx.membership;
      if (control === undefined)
        throw new HttpError(503, "unavailable", "this node has no membership control");
      const by = req.user!.name;
      try {
        const message = await run(control, jsonBody(req), by);
        return json({ node: ctx.broker.settings.nodeName, message });
      } catch (e) {
        if (control.isRefusal(e)) throw new HttpError(409, "conflict", (e as Error).message);
        throw e;
      }
    });
  verb("/api/warren/app/stop", (m, _b, by) => m.stopApp(by));
  verb("/api/warren/app/start", (m, _b, by) => m.startApp(by));
  verb("/api/warren/reset", (m, _b, by) => m.reset(by));
  verb("/api/warren/join_cluster", (m, body, by) => m.joinCluster(nodeParam(body), by));
  verb("/api/warren/forget_cluster_node", (m, body, by) =>
    m.forgetClusterNode(nodeParam(body), by),
  );
}

function nodeParam(body: Record<string, unknown>): string {
  const node = body.node;
  if (typeof node !== "string" || node.trim() === "")
    throw badRequest("node must be a node name (warren@host[:port])");
  return node.trim();
}
