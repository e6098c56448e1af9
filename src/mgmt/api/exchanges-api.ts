import {
  exchangeDeclareCommand,
  exchangeDeleteCommand,
} from "../../connection/methods/exchange-methods.js";
import {
  checkPermission,
  checkTopicPermission,
  type PermissionScope,
} from "../../connection/permissions.js";
import { AmqpError } from "../../protocol/amqp-error.js";
import { fromPlainJson } from "../../protocol/field-table-json.js";
import type { EnqueueResult } from "../../queue/enqueue-outcome.js";
import type { Exchange } from "../../routing/exchange.js";
import { type Publisher, type PublishOutcome, publishMessage } from "../../vhost/publishing.js";
import type { User } from "../../vhost/users.js";
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
  httpRequester,
  listedVhosts,
  pathVhost,
  queryFlag,
  refusalToHttp,
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
 * POST /api/exchanges/{vhost}/{name}/publish: published as RabbitMQ's HTTP publish
 * does (mandatory, answered once it is confirmed), through the vhost's publish
 * with the request's user; {"routed": false} when no queue took it.
 */
async function publish(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const vhost = pathVhost(ctx, req);
  const body = jsonBody(req);
  const routingKey = stringField(body, "routing_key");
  const properties = propertiesFromJson(objectField(body, "properties") ?? {});
  const payload = decodePayload(body.payload, body.payload_encoding);
  const exchange = exchangeName(req.params.name!);
  const broker = ctx.broker;
  const user = req.user!;
  let outcome: PublishOutcome;
  try {
    // As on a channel of its own (RabbitMQ's management plugin publishes on one): the
    // user's channel limit admits it, and it counts as a channel while it runs.
    broker.admitChannel(user.name);
    broker.counters.channelsOpened++;
    try {
      checkEncodable(exchange, routingKey);
      outcome = publishMessage(
        broker,
        vhost,
        httpPublisher(httpRequester(ctx, req, vhost), user),
        { exchange, routingKey, mandatory: true, properties, body: payload },
        broker.clock(),
      );
    } finally {
      broker.channelClosed(user.name);
      broker.counters.channelsClosed++;
    }
  } catch (e) {
    // A publish refused with an AMQP error, in the words RabbitMQ's HTTP publish answers with.
    throw e instanceof AmqpError ? refusalToHttp(e, "amqp") : e;
  }
  const result = await new Promise<EnqueueResult>((resolve) =>
    outcome.enqueue.whenSettled(resolve),
  );
  if (!result.accepted) throw badRequest("Unable to publish message. Check queue limits.");
  return json({ routed: !outcome.returned });
}

/**
 * A name or key an AMQP frame could not carry (over 255 bytes) is refused as the
 * frame codec would refuse it: no client could have sent it, and no basic.deliver
 * could carry it to a consumer.
 */
function checkEncodable(exchange: string, routingKey: string): void {
  const long =
    Buffer.byteLength(exchange) > 255
      ? "exchange name"
      : Buffer.byteLength(routingKey) > 255
        ? "routing key"
        : undefined;
  if (long) throw new AmqpError(502, `SYNTAX_ERROR - ${long} is longer than 255 bytes`);
}

/** The HTTP user as a publisher: their permissions; no reply consumer, no socket to hold back. */
function httpPublisher(scope: PermissionScope, user: User): Publisher {
  return {
    user,
    checkExchangeWrite: (name) => checkPermission(scope, "write", "exchange", name),
    checkRoutingKeys: (exchange, keys) => checkTopicPermission(scope, "write", exchange, keys),
    replyKey: undefined,
  };
}
