import {
  purgeQueue,
  queueDeclareCommand,
  queueDeleteCommand,
} from "../../connection/methods/queue-methods.js";
import { fromPlainJson } from "../../protocol/field-table-json.js";
import type { Queue } from "../../queue/queue-type.js";
import type { DirectChannel } from "../direct/direct-channel.js";
import { encodePayload, propertiesToJson } from "../direct/json-properties.js";
import {
  type ApiRequest,
  badRequest,
  boolField,
  CREATED,
  type HttpResponse,
  intField,
  json,
  jsonBody,
  NO_CONTENT,
  objectField,
  stringField,
} from "../http/http-types.js";
import { listResponse } from "../http/list-query.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { queueView } from "../views/queue-view.js";
import { queueReplicas, reachableNodes } from "../views/quorum-view.js";
import { bindingRows, bindingView } from "../views/topology-view.js";
import {
  asManagementChannel,
  definitionsDurable,
  listedVhosts,
  pathQueue,
  pathVhost,
  queryFlag,
  queueOwner,
  queuePolicies,
  withDirectChannel,
} from "./api-helpers.js";

/** /api/queues: list, show, declare, delete, purge, get messages, and a queue's bindings. */
export function queueRoutes(router: Router, ctx: NodeContext): void {
  const node = ctx.broker.settings.nodeName;
  // One reachability snapshot per request serves every queue of a list.
  const viewOf = (reachable: ReadonlySet<string>) => (q: Queue) => {
    const status = ctx.quorum?.status(q.definition.vhost, q.name);
    const replicas = queueReplicas(q, node, status, reachable);
    return queueView(q, node, ctx.history, queueOwner(q), queuePolicies(ctx, q), replicas);
  };
  const list = (req: ApiRequest) => {
    const view = viewOf(reachableNodes(node, ctx.cluster?.view()));
    const items = listedVhosts(ctx, req).flatMap((v) => [...v.queues.values()].map(view));
    return listResponse(items, req.query);
  };
  router.get("/api/queues", "management", list);
  router.get("/api/queues/:vhost", "management", list);
  router.get("/api/queues/:vhost/:name", "management", (req) => {
    const q = pathQueue(ctx, req);
    return json(viewOf(reachableNodes(node, ctx.cluster?.view()))(q));
  });
  router.put("/api/queues/:vhost/:name", "management", (req) => declareQueue(ctx, req));
  router.delete("/api/queues/:vhost/:name", "management", async (req) => {
    const q = pathQueue(ctx, req);
    const options = { ifUnused: queryFlag(req, "if-unused"), ifEmpty: queryFlag(req, "if-empty") };
    const method = { name: "queue.delete", queue: q.name, ...options, noWait: false } as const;
    await asManagementChannel(ctx, req, pathVhost(ctx, req), method, async (r) => {
      await ctx.broker.submit(queueDeleteCommand(r, q.name, options, undefined));
      await definitionsDurable(ctx);
    });
    return NO_CONTENT;
  });
  router.delete("/api/queues/:vhost/:name/contents", "management", async (req) => {
    const q = pathQueue(ctx, req);
    const method = { name: "queue.purge", queue: q.name, noWait: false } as const;
    await asManagementChannel(ctx, req, pathVhost(ctx, req), method, (r) =>
      purgeQueue(r, q.name, undefined),
    );
    return NO_CONTENT;
  });
  router.post("/api/queues/:vhost/:name/get", "management", (req) => getMessages(ctx, req));
  router.get("/api/queues/:vhost/:name/bindings", "management", (req) => {
    const q = pathQueue(ctx, req);
    const vhost = pathVhost(ctx, req);
    const rows = bindingRows(vhost).filter(
      (r) => r.destinationType === "queue" && r.destination === q.name,
    );
    return listResponse(
      rows.map((r) => bindingView(r, vhost.name)),
      req.query,
    );
  });
}

/** PUT /api/queues/{vhost}/{name}: queue.declare as the request's user (never exclusive). */
async function declareQueue(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const vhost = pathVhost(ctx, req);
  const name = req.params.name!;
  const body = jsonBody(req);
  const existed = vhost.queues.has(name);
  const request = {
    name,
    durable: boolField(body, "durable", true),
    exclusive: false,
    autoDelete: boolField(body, "auto_delete", false),
    arguments: fromPlainJson(objectField(body, "arguments") ?? {}),
  };
  const method = {
    name: "queue.declare",
    queue: name,
    passive: false,
    durable: request.durable,
    exclusive: false,
    autoDelete: request.autoDelete,
    noWait: false,
    arguments: request.arguments,
  } as const;
  await asManagementChannel(ctx, req, vhost, method, async (r) => {
    const applied = await ctx.broker.submit(
      queueDeclareCommand(r, request, name !== "", undefined),
    );
    const queue = vhost.requireQueue(name);
    queue.declared(ctx.broker.clock());
    // As declare-ok: once the queue is on disk (an existing one's save may be in flight).
    if (queue.isDurable) await definitionsDurable(ctx, applied.version);
  });
  return existed ? NO_CONTENT : CREATED;
}

const ACK_MODES: Record<string, { noAck: boolean; settle: "requeue" | "reject" | "none" }> = {
  ack_requeue_true: { noAck: false, settle: "requeue" },
  reject_requeue_true: { noAck: false, settle: "requeue" },
  reject_requeue_false: { noAck: false, settle: "reject" },
  ack_requeue_false: { noAck: true, settle: "none" },
};

/**
 * POST /api/queues/{vhost}/{name}/get: takes up to `count` messages with basic.get,
 * then puts them back (ack_requeue_true, reject_requeue_true), rejects them without
 * requeue (reject_requeue_false: dead-lettered if the queue says so) or keeps them
 * consumed (ack_requeue_false). Requeueing happens after all gets, so a count of
 * five returns five different messages.
 */
async function getMessages(ctx: NodeContext, req: ApiRequest): Promise<HttpResponse> {
  const q = pathQueue(ctx, req);
  const body = jsonBody(req);
  const count = intField(body, "count", 1);
  const ackmode = stringField(body, "ackmode", "ack_requeue_true");
  const mode = Object.hasOwn(ACK_MODES, ackmode) ? ACK_MODES[ackmode] : undefined;
  if (!mode) throw badRequest(`unknown ackmode ${JSON.stringify(body.ackmode)}`);
  const encoding = stringField(body, "encoding", "auto");
  if (encoding !== "auto" && encoding !== "base64")
    throw badRequest(`unknown encoding ${JSON.stringify(encoding)}`);
  const truncate = body.truncate === undefined ? undefined : intField(body, "truncate", 0);
  // TODO(issue 15): basic.get through the queue-type interface instead of a loopback channel.
  const messages = await withDirectChannel(ctx, req, q.definition.vhost, "explanation", (ch) =>
    fetch(ch, q.name, count, mode.noAck, mode.settle),
  );
  return json(
    messages.map((m) => {
      const body = truncate === undefined ? m.body : m.body.subarray(0, truncate);
      return {
        payload_bytes: m.body.length,
        redelivered: m.redelivered,
        exchange: m.exchange,
        routing_key: m.routingKey,
        message_count: m.messageCount,
        properties: propertiesToJson(m.properties),
        ...encodePayload(body, encoding),
      };
    }),
  );
}

interface Fetched {
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  readonly messageCount: number;
  readonly properties: Buffer;
  readonly body: Buffer;
}

async function fetch(
  ch: DirectChannel,
  queue: string,
  count: number,
  noAck: boolean,
  settle: "requeue" | "reject" | "none",
): Promise<Fetched[]> {
  const out: Fetched[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await ch.call({ name: "basic.get", queue, noAck }, [
      "basic.get-ok",
      "basic.get-empty",
    ]);
    const m = reply.method;
    if (m.name !== "basic.get-ok") break;
    out.push({
      deliveryTag: m.deliveryTag,
      redelivered: m.redelivered,
      exchange: m.exchange,
      routingKey: m.routingKey,
      messageCount: m.messageCount,
      properties: reply.properties ?? Buffer.alloc(2),
      body: reply.body ?? Buffer.alloc(0),
    });
  }
  if (out.length === 0 || settle === "none") return out;
  const last = out[out.length - 1]!.deliveryTag;
  if (settle === "requeue") {
    ch.cast({ name: "basic.nack", deliveryTag: last, multiple: true, requeue: true });
  } else {
    for (const f of out)
      ch.cast({ name: "basic.reject", deliveryTag: f.deliveryTag, requeue: false });
  }
  await ch.sync();
  return out;
}
