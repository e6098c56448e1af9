import type { AmqpConnection } from "../../connection/amqp-connection.js";
import type { Channel } from "../../connection/channel.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import { notAuthorised, seesUser } from "../http/auth.js";
import { type ApiRequest, json, NO_CONTENT, notFound } from "../http/http-types.js";
import { listResponse } from "../http/list-query.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import {
  channelName,
  channelView,
  connectionView,
  consumerView,
} from "../views/connection-view.js";
import { listedVhosts, pathVhost } from "./api-helpers.js";

/** Connections the request's user may see: its own, or all for monitoring and administrators. */
function visibleConnections(ctx: NodeContext, req: ApiRequest): AmqpConnection[] {
  return ctx.connections().filter((c) => seesUser(req.user!, c.user?.name));
}

function pathConnection(ctx: NodeContext, req: ApiRequest): AmqpConnection {
  const c = visibleConnections(ctx, req).find((x) => x.name === req.params.name);
  if (!c) throw notFound();
  return c;
}

function channelsOf(conns: readonly AmqpConnection[]): Channel[] {
  return conns.flatMap((c) => [...c.channels.values()]);
}

/**
 * Closes a connection as `rabbitmqctl close_connection` and the management API do:
 * connection.close 320 CONNECTION_FORCED with the operator's reason, logged.
 */
export function forceClose(
  ctx: NodeContext,
  conn: AmqpConnection,
  reason: string,
  byUser: string,
): void {
  ctx.log.warn(
    { connection: conn.name, user: conn.user?.name, by: byUser, reason },
    `closing connection ${conn.name} on request of user '${byUser}': ${reason}`,
  );
  if (conn.state === "open") {
    conn.close(ReplyCode.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`);
  } else {
    conn.closeReason = `closed by ${byUser}: ${reason}`;
    conn.abort();
  }
}

/** /api/connections, /api/channels, /api/consumers and their per-vhost forms. */
export function connectionRoutes(router: Router, ctx: NodeContext): void {
  const node = ctx.broker.settings.nodeName;
  router.get("/api/connections", "management", (req) =>
    listResponse(
      visibleConnections(ctx, req).map((c) => connectionView(c, node)),
      req.query,
    ),
  );
  router.get("/api/vhosts/:vhost/connections", "management", (req) => {
    const vhost = pathVhost(ctx, req);
    return listResponse(
      visibleConnections(ctx, req)
        .filter((c) => c.vhost === vhost)
        .map((c) => connectionView(c, node)),
      req.query,
    );
  });
  router.get("/api/connections/:name", "management", (req) =>
    json(connectionView(pathConnection(ctx, req), node)),
  );
  router.delete("/api/connections/:name", "management", (req) => {
    const conn = pathConnection(ctx, req);
    const user = req.user!;
    if (conn.user?.name !== user.name && !user.tags.includes("administrator")) {
      throw notAuthorised("Not administrator user");
    }
    const header = req.headers["x-reason"];
    const reason = (Array.isArray(header) ? header[0] : header) || "Closed via management plugin";
    forceClose(ctx, conn, reason, user.name);
    return NO_CONTENT;
  });
  router.get("/api/connections/:name/channels", "management", (req) =>
    listResponse(
      channelsOf([pathConnection(ctx, req)]).map((ch) => channelView(ch, node)),
      req.query,
    ),
  );
  router.get("/api/channels", "management", (req) =>
    listResponse(
      channelsOf(visibleConnections(ctx, req)).map((ch) => channelView(ch, node)),
      req.query,
    ),
  );
  router.get("/api/vhosts/:vhost/channels", "management", (req) => {
    const vhost = pathVhost(ctx, req);
    const conns = visibleConnections(ctx, req).filter((c) => c.vhost === vhost);
    return listResponse(
      channelsOf(conns).map((ch) => channelView(ch, node)),
      req.query,
    );
  });
  router.get("/api/channels/:name", "management", (req) => {
    const ch = channelsOf(visibleConnections(ctx, req)).find(
      (c) => channelName(c) === req.params.name,
    );
    if (!ch) throw notFound();
    return json(channelView(ch, node));
  });
  const consumers = (req: ApiRequest) => {
    const vhosts = new Set(listedVhosts(ctx, req));
    const items = channelsOf(ctx.connections())
      .filter((ch) => ch.conn.vhost && vhosts.has(ch.conn.vhost))
      .flatMap((ch) => [...ch.consumers.values()].map((c) => consumerView(c, ch, node)));
    return listResponse(items, req.query);
  };
  router.get("/api/consumers", "management", consumers);
  router.get("/api/consumers/:vhost", "management", consumers);
}
