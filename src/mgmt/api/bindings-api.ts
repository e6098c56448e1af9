import {
  type BindingRequest,
  bindCommand,
  unbindCommand,
} from "../../connection/methods/queue-methods.js";
import { fromPlainJson } from "../../protocol/field-table-json.js";
import type { Method } from "../../protocol/generated/methods.js";
import {
  type ApiRequest,
  badRequest,
  type HttpResponse,
  json,
  jsonBody,
  NO_CONTENT,
  notFound,
  objectField,
  stringField,
} from "../http/http-types.js";
import { listResponse } from "../http/list-query.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import {
  type BindingRow,
  bindingRows,
  bindingView,
  propertiesKey,
} from "../views/topology-view.js";
import { asManagementChannel, definitionsDurable, listedVhosts, pathVhost } from "./api-helpers.js";
import { exchangeName } from "./exchanges-api.js";

const BETWEEN = "/api/bindings/:vhost/e/:source/:dtype/:destination";

function destinationType(req: ApiRequest): "queue" | "exchange" {
  const t = req.params.dtype;
  if (t === "q") return "queue";
  if (t === "e") return "exchange";
  throw notFound();
}

/** The bindings from the path's source to its destination. */
function between(ctx: NodeContext, req: ApiRequest): BindingRow[] {
  const vhost = pathVhost(ctx, req);
  const type = destinationType(req);
  const source = exchangeName(req.params.source!);
  const destination = req.params.destination!;
  if (!vhost.exchanges.has(source)) throw notFound();
  const exists =
    type === "queue" ? vhost.queues.has(destination) : vhost.exchanges.has(destination);
  if (!exists) throw notFound();
  return bindingRows(vhost).filter(
    (r) => r.source === source && r.destinationType === type && r.destination === destination,
  );
}

function one(ctx: NodeContext, req: ApiRequest): BindingRow {
  const key = req.params.props!;
  const row = between(ctx, req).find((r) => propertiesKey(r.routingKey, r.arguments) === key);
  if (!row) throw notFound();
  return row;
}

/** The AMQP method a binding request stands for (its names must fit in a frame). */
function bindMethod(row: BindingRequest, unbind: boolean): Method {
  const common = { routingKey: row.routingKey, arguments: row.arguments };
  if (row.destinationKind === "queue") {
    const names = { queue: row.destination, exchange: row.source, ...common };
    return unbind
      ? { name: "queue.unbind", ...names }
      : { name: "queue.bind", ...names, noWait: false };
  }
  const names = { destination: row.destination, source: row.source, ...common, noWait: false };
  return { name: unbind ? "exchange.unbind" : "exchange.bind", ...names };
}

/** /api/bindings: list, create (POST), show and delete one binding by its properties key. */
export function bindingRoutes(router: Router, ctx: NodeContext): void {
  const list = (req: ApiRequest) =>
    listResponse(
      listedVhosts(ctx, req).flatMap((v) => bindingRows(v).map((r) => bindingView(r, v.name))),
      req.query,
    );
  router.get("/api/bindings", "management", list);
  router.get("/api/bindings/:vhost", "management", list);
  router.get(BETWEEN, "management", (req) =>
    listResponse(
      between(ctx, req).map((r) => bindingView(r, req.params.vhost!)),
      req.query,
    ),
  );
  router.post(BETWEEN, "management", (req) => createBinding(ctx, req));
  router.get(`${BETWEEN}/:props`, "management", (req) =>
    json(bindingView(one(ctx, req), req.params.vhost!)),
  );
  router.delete(`${BETWEEN}/:props`, "management", async (req) => {
    const row = one(ctx, req);
    if (row.source === "") throw badRequest("cannot delete the default exchange's bindings");
    const binding: BindingRequest = {
      source: row.source,
      destinationKind: destinationType(req),
      destination: row.destination,
      routingKey: row.routingKey,
      arguments: row.arguments,
    };
    const vhost = pathVhost(ctx, req);
    await asManagementChannel(ctx, req, vhost, bindMethod(binding, true), async (r) => {
      await ctx.broker.submit(unbindCommand(r, binding));
      await definitionsDurable(ctx);
    });
    return NO_CONTENT;
  });
}

async function createBinding(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  between(ctx, req);
  const body = jsonBody(req);
  const binding: BindingRequest = {
    source: exchangeName(req.params.source!),
    destinationKind: destinationType(req),
    destination: req.params.destination!,
    routingKey: stringField(body, "routing_key", ""),
    arguments: fromPlainJson(objectField(body, "arguments") ?? {}),
  };
  const vhost = pathVhost(ctx, req);
  await asManagementChannel(ctx, req, vhost, bindMethod(binding, false), async (r) => {
    await ctx.broker.submit(bindCommand(r, binding, undefined));
    await definitionsDurable(ctx);
  });
  const key = propertiesKey(binding.routingKey, binding.arguments);
  return {
    status: 201,
    headers: { location: `${encodeURIComponent(binding.destination)}/${key}` },
  };
}
