import { isLoopback } from "../../connection/client-info.js";
import type { Broker } from "../../vhost/broker.js";
import type { User } from "../../vhost/users.js";
import { HttpError, type HttpRequest } from "./http-types.js";

/**
 * Who may call a route, by RabbitMQ's management user tags: "management" is any
 * user with a management tag (and sees only the vhosts it has permissions in);
 * "monitoring" sees every vhost's objects and the node; "policymaker" manages
 * policies; "administrator" everything. "none" needs no login (the metrics port).
 */
export type Access = "none" | "management" | "monitoring" | "policymaker" | "administrator";

const MANAGEMENT_TAGS = ["management", "policymaker", "monitoring", "administrator"];

/** The user named by the request's HTTP basic credentials, or a 401 as RabbitMQ answers it. */
export function authenticate(broker: Broker, req: HttpRequest): User {
  const header = req.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (!value?.startsWith("Basic ")) {
    // RabbitMQ answers a request without credentials with an empty 401.
    throw new HttpError(401, "not_authorized", "Login failed");
  }
  const decoded = Buffer.from(value.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const name = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? "" : decoded.slice(colon + 1);
  const user = broker.users.authenticate(name, password);
  // RabbitMQ spells this one "not_authorized" and the tag refusals "not_authorised".
  if (!user) throw new HttpError(401, "not_authorized", "Login failed");
  if (broker.settings.loopbackUsers.includes(name) && !isLoopback(req.peerAddress)) {
    throw new HttpError(401, "not_authorized", "User can only log in via localhost");
  }
  return user;
}

function hasAny(user: User, tags: readonly string[]): boolean {
  return user.tags.some((t) => tags.includes(t));
}

/** Throws RabbitMQ's 401 when the user's tags do not allow the access. */
export function requireAccess(user: User, access: Access): void {
  switch (access) {
    case "none":
      return;
    case "management":
      if (!hasAny(user, MANAGEMENT_TAGS)) throw notAuthorised("Not management user");
      return;
    case "monitoring":
      if (!hasAny(user, ["monitoring", "administrator"])) throw notAuthorised("Not monitor user");
      return;
    case "policymaker":
      if (!hasAny(user, ["policymaker", "administrator"]))
        throw notAuthorised("Not policymaker user");
      return;
    case "administrator":
      if (!hasAny(user, ["administrator"])) throw notAuthorised("Not administrator user");
      return;
  }
}

export function notAuthorised(reason: string): HttpError {
  return new HttpError(401, "not_authorised", reason);
}

/** Monitoring and administrator users see every vhost; others only those they have permissions in. */
export function seesAllVhosts(user: User): boolean {
  return hasAny(user, ["monitoring", "administrator"]);
}

export function canAccessVhost(broker: Broker, user: User, vhost: string): boolean {
  return seesAllVhosts(user) || broker.users.permission(vhost, user.name) !== undefined;
}

/** RabbitMQ's is_authorized_vhost: the user needs permissions in the vhost (any tag). */
export function requireVhostAccess(broker: Broker, user: User, vhost: string): void {
  if (broker.users.permission(vhost, user.name) === undefined && !hasAny(user, ["administrator"]))
    throw notAuthorised("User not authorised to access virtual host");
}

/** Whether the user may see objects of this user in connection and channel lists. */
export function seesUser(viewer: User, owner: string | undefined): boolean {
  return seesAllVhosts(viewer) || viewer.name === owner;
}
