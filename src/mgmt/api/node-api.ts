import { exportDefinitions, exportVhostDefinitions } from "../definitions/export-definitions.js";
import { importDefinitions, type PolicyImporter } from "../definitions/import-definitions.js";
import { badRequest, json, NO_CONTENT, notFound } from "../http/http-types.js";
import { jsonBodyInSlices } from "../http/json-in-slices.js";
import { listResponse } from "../http/list-query.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { nodesView, overviewView } from "../views/node-view.js";
import { pathVhost } from "./api-helpers.js";

/** How the node's policies are exported and imported (wired to the policy store). */
export interface PolicyPort {
  exportAll(vhost?: string): Record<string, unknown>[];
  importer: PolicyImporter;
}

/** /api/overview, /api/nodes, /api/cluster-name and /api/definitions. */
export function nodeRoutes(router: Router, ctx: NodeContext, policies: PolicyPort): void {
  router.get("/api/overview", "management", (req) => json(overviewView(ctx, req.user)));
  router.get("/api/cluster-name", "management", () =>
    json({ name: ctx.broker.settings.clusterName }),
  );
  router.get("/api/nodes", "monitoring", (req) => listResponse(nodesView(ctx), req.query));
  router.get("/api/nodes/:node", "monitoring", (req) => {
    const node = nodesView(ctx).find((n) => n.name === req.params.node);
    if (!node) throw notFound();
    return json(node);
  });
  router.get("/api/extensions", "management", () => json([]));
  // Runtime parameters (federation, shovels) do not exist in Warren: the lists are
  // empty, so tools that list everything (rabbitmqadmin) work. Limits: limits-api.ts.
  for (const path of [
    "/api/parameters",
    "/api/parameters/:component",
    "/api/parameters/:component/:vhost",
  ]) {
    router.get(path, "management", () => json([]));
  }
  router.get("/api/global-parameters", "management", () =>
    json([{ name: "cluster_name", value: ctx.broker.settings.clusterName }]),
  );

  const exportAll = () => json(exportDefinitions(ctx.broker, policies.exportAll()));
  router.get("/api/definitions", "administrator", exportAll);
  router.get("/api/all-configuration", "administrator", exportAll);
  router.get("/api/definitions/:vhost", "administrator", (req) => {
    const vhost = pathVhost(ctx, req);
    return json(exportVhostDefinitions(vhost, policies.exportAll(vhost.name)));
  });
  const importAll = async (req: Parameters<Parameters<Router["post"]>[2]>[0]) => {
    const vhost = req.params.vhost !== undefined ? pathVhost(ctx, req).name : undefined;
    const defs = await jsonBodyInSlices(req);
    if (Object.keys(defs).length === 0) throw badRequest("empty definitions");
    await importDefinitions(ctx, defs, req.user!.name, policies.importer, vhost);
    // Answered once the imported durable objects are on disk (managementDispatch waits).
    return NO_CONTENT;
  };
  router.post("/api/definitions", "administrator", importAll);
  router.post("/api/all-configuration", "administrator", importAll);
  router.post("/api/definitions/:vhost", "administrator", importAll);
}
