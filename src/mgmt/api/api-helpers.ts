import { AmqpConnection } from "../../connection/amqp-connection.js";
import type { Queue } from "../../queue/queue-type.js";
import type { User } from "../../vhost/users.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import { DirectChannel, DirectError } from "../direct/direct-channel.js";
import { canAccessVhost, notAuthorised, requireVhostAccess } from "../http/auth.js";
import { type ApiRequest, HttpError, notFound } from "../http/http-types.js";
import type { NodeContext } from "../node-context.js";
import type { QueueOwner, QueuePolicies } from "../views/queue-view.js";

/** The vhosts this user may see, in name order. */
export function visibleVhosts(ctx: NodeContext, user: User): VirtualHost[] {
  return [...ctx.broker.vhosts.values()]
    .filter((v) => canAccessVhost(ctx.broker, user, v.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The vhost named in the path (404 when missing, 401 when the user has no access to it). */
export function pathVhost(ctx: NodeContext, req: ApiRequest): VirtualHost {
  const vhost = ctx.broker.vhosts.get(req.params.vhost ?? "");
  if (!vhost) throw notFound();
  requireVhostAccess(ctx.broker, req.user!, vhost.name);
  return vhost;
}

/** The vhosts a list route covers: the one in the path, or every visible one. */
export function listedVhosts(ctx: NodeContext, req: ApiRequest): VirtualHost[] {
  return req.params.vhost !== undefined ? [pathVhost(ctx, req)] : visibleVhosts(ctx, req.user!);
}

export function pathQueue(ctx: NodeContext, req: ApiRequest): Queue {
  const q = pathVhost(ctx, req).queues.get(req.params.name ?? "");
  if (!q) throw notFound();
  return q;
}

/** The connection that owns an exclusive queue, for owner_pid_details. */
export function queueOwner(q: Queue): QueueOwner | undefined {
  const owner = q.exclusiveOwner;
  if (!(owner instanceof AmqpConnection)) return undefined;
  return {
    name: owner.name,
    peerHost: owner.transport.remoteAddress,
    peerPort: owner.transport.remotePort,
  };
}

/**
 * The policy and operator policy a queue's settings came from, and their merged
 * definition as RabbitMQ shows it (for numeric keys both set, the lower wins).
 */
export function queuePolicies(ctx: NodeContext, q: Queue): QueuePolicies {
  const { policy, operatorPolicy } = q.settings;
  const vhost = q.definition.vhost;
  const p = policy ? ctx.broker.policies.get("policy", vhost, policy) : undefined;
  const op = operatorPolicy
    ? ctx.broker.policies.get("operator_policy", vhost, operatorPolicy)
    : undefined;
  const effective: Record<string, unknown> = { ...p?.definition };
  for (const [k, v] of Object.entries(op?.definition ?? {})) {
    const mine = effective[k];
    effective[k] = typeof mine === "number" && typeof v === "number" ? Math.min(mine, v) : v;
  }
  return { policy, operatorPolicy, effective };
}

/** How a channel error reads in the HTTP answer. */
export type ErrorStyle = "explanation" | "amqp";

/**
 * Maps a close from the direct channel to RabbitMQ's HTTP answers: 404 for
 * NOT_FOUND, 401 for ACCESS_REFUSED, otherwise 400. Declarations quote only the
 * explanation ("inequivalent arg 'durable' ..."); publishes quote the code and
 * text ("404 NOT_FOUND - no exchange 'x' in vhost '/'"), as RabbitMQ does.
 */
export function directErrorToHttp(e: DirectError, style: ErrorStyle): HttpError {
  if (e.code === 403) return notAuthorised(e.explanation);
  if (style === "amqp") return new HttpError(400, "bad_request", `${e.code} ${e.text}`);
  if (e.code === 404) return new HttpError(404, "Object Not Found", e.explanation);
  return new HttpError(400, "bad_request", e.explanation);
}

/** Runs AMQP commands on a management channel as the request's user. */
export async function withDirectChannel<T>(
  ctx: NodeContext,
  req: ApiRequest,
  vhost: string,
  style: ErrorStyle,
  fn: (ch: DirectChannel) => Promise<T>,
): Promise<T> {
  try {
    return await DirectChannel.with(ctx.broker, req.user!, vhost, req.peerAddress, fn);
  } catch (e) {
    if (e instanceof DirectError) throw directErrorToHttp(e, style);
    throw e;
  }
}

/** Query flags RabbitMQ accepts as "true". */
export function queryFlag(req: ApiRequest, name: string): boolean {
  return req.query.get(name) === "true";
}
