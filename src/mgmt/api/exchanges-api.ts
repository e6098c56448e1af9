import {
  exchangeDeclareCommand,
  exchangeDeleteCommand,
} from "../../connection/methods/exchange-methods.js";
import { fromPlainJson } from "../../protocol/field-table-json.js";
import type { Exchange } from "../../routing/exchange.js";
import { decodePayload, propertiesFromJson } from "../direct/json-properties.js";
import {
  type ApiRequest,
  badRequest,
  boolField,
  CREATED,
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
import { bindingRows, bindingView, exchangeView } from "../views/topology-view.js";
import {
  asManagementChannel,
  definitionsDurable,
  listedVhosts,
  pathVhost,
  queryFlag,
  withDirectChannel,
} from "./api-helpers.js";

/** The default exchange is "amq.default" in URLs and "" everywhere else (RabbitMQ). */
export function exchangeName(pathName: string): string {
  return pathName === "amq.default" ? "" : pathName;
}

function pathExchange(ctx: NodeContext, req: ApiRequest): Exchange {
  const e = pathVhost(ctx, req).exchanges.get(exchangeName(req.params.name ?? ""));
  if (!e) throw notFound();
  return e;
}

/** /api/exchanges: list, show, declare, delete, publish, and an exchange's bindings. */
export function exchangeRoutes(router: Router, ctx: NodeContext): void {
  const list = (req: ApiRequest) =>
    listResponse(
      listedVhosts(ctx, req).flatMap((v) =>
        [...v.exchanges.values()].map((e) => exchangeView(e, v.name)),
      ),
      req.query,
    );
  router.get("/api/exchanges", "management", list);
  router.get("/api/exchanges/:vhost", "management", list);
  router.get("/api/exchanges/:vhost/:name", "management", (req) =>
    json(exchangeView(pathExchange(ctx, req), req.params.vhost!)),
  );
  router.put("/api/exchanges/:vhost/:name", "management", (req) => declareExchange(ctx, req));
  router.delete("/api/exchanges/:vhost/:name", "management", async (req) => {
    const e = pathExchange(ctx, req);
    const ifUnused = queryFlag(req, "if-unused");
    const method = { name: "exchange.delete", exchange: e.name, ifUnused, noWait: false } as const;
    await asManagementChannel(ctx, req, pathVhost(ctx, req), method, async (r) => {
      await ctx.broker.submit(exchangeDeleteCommand(r, e.name, ifUnused));
      await definitionsDurable(ctx);
    });
    return NO_CONTENT;
  });
  router.post("/api/exchanges/:vhost/:name/publish", "management", (req) => publish(ctx, req));
  for (const side of ["source", "destination"] as const) {
    router.get(`/api/exchanges/:vhost/:name/bindings/${side}`, "management", (req) => {
      const e = pathExchange(ctx, req);
      const vhost = pathVhost(ctx, req);
      const rows = bindingRows(vhost).filter((r) =>
        side === "source"
          ? r.source === e.name
          : r.destinationType === "exchange" && r.destination === e.name,
      );
      return listResponse(
        rows.map((r) => bindingView(r, vhost.name)),
        req.query,
      );
    });
  }
}

/** PUT /api/exchanges/{vhost}/{name}: exchange.declare as the request's user. */
async function declareExchange(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const vhost = pathVhost(ctx, req);
  const name = exchangeName(req.params.name!);
  const body = jsonBody(req);
  const existed = vhost.exchanges.has(name);
  const request = {
    name,
    type: stringField(body, "type"),
    durable: boolField(body, "durable", true),
    autoDelete: boolField(body, "auto_delete", false),
    internal: boolField(body, "internal", false),
    arguments: fromPlainJson(objectField(body, "arguments") ?? {}),
  };
  const method = {
    name: "exchange.declare",
    exchange: name,
    type: request.type,
    passive: false,
    durable: request.durable,
    autoDelete: request.autoDelete,
    internal: request.internal,
    noWait: false,
    arguments: request.arguments,
  } as const;
  await asManagementChannel(ctx, req, vhost, method, async (r) => {
    await ctx.broker.submit(exchangeDeclareCommand(r, request));
    await definitionsDurable(ctx);
  });
  return existed ? NO_CONTENT : CREATED;
}

/**
 * POST /api/exchanges/{vhost}/{name}/publish: a mandatory publish in confirm mode
 * on a management channel; {"routed": false} when no queue took it.
 */
async function publish(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const vhost = pathVhost(ctx, req);
  const body = jsonBody(req);
  const routingKey = stringField(body, "routing_key");
  const properties = propertiesFromJson(objectField(body, "properties") ?? {});
  const payload = decodePayload(body.payload, body.payload_encoding);
  const result = await withDirectChannel(ctx, req, vhost.name, "amqp", (ch) =>
    ch.publish(exchangeName(req.params.name!), routingKey, properties, payload),
  );
  if (result.nacked) throw badRequest("Unable to publish message. Check queue limits.");
  return json({ routed: result.routed });
}
