import { HASHING_ALGORITHM, hashPassword } from "../../vhost/password-hash.js";
import { patternProblem } from "../../vhost/pattern-safety.js";
import type { Permission } from "../../vhost/users.js";
import { badRequest } from "../http/http-types.js";
import type { NodeContext } from "../node-context.js";

/**
 * Changes to vhosts, users and permissions, shared by the HTTP API and definitions
 * import. Each logs what it did and who asked, in RabbitMQ's words where operators
 * grep for them, and saves the definitions.
 */

export function addVhost(ctx: NodeContext, name: string, byUser: string): boolean {
  const b = ctx.broker;
  if (b.vhosts.has(name)) return false;
  b.addVhost(name);
  ctx.log.info({ vhost: name, by: byUser }, `Adding vhost '${name}'`);
  return true;
}

/**
 * Deletes a vhost as RabbitMQ does: its connections are closed, its queues
 * (and their messages) and exchanges go, and so do the permissions in it.
 */
export function deleteVhost(ctx: NodeContext, name: string, byUser: string): boolean {
  if (!ctx.broker.vhosts.has(name)) return false;
  ctx.log.info({ vhost: name, by: byUser }, `Deleting vhost '${name}'`);
  return ctx.broker.deleteVhost(name);
}

/** Creates or updates a user: a password (hashed here) or a ready hash, and tags. */
export function putUser(
  ctx: NodeContext,
  name: string,
  secret: { password: string } | { passwordHash: string; hashingAlgorithm: string },
  tags: string[],
  byUser: string,
): "created" | "updated" {
  const b = ctx.broker;
  const existing = b.users.users.get(name);
  const passwordHash = "password" in secret ? hashPassword(secret.password) : secret.passwordHash;
  const hashingAlgorithm = "password" in secret ? HASHING_ALGORITHM : secret.hashingAlgorithm;
  if (existing) {
    existing.passwordHash = passwordHash;
    existing.tags = tags;
    ctx.log.info({ user: name, tags, by: byUser }, `Updated user '${name}' (tags: ${tags})`);
  } else {
    b.users.users.set(name, { name, passwordHash, hashingAlgorithm, tags });
    ctx.log.info({ user: name, tags, by: byUser }, `Created user '${name}'`);
  }
  b.definitionsChanged();
  return existing ? "updated" : "created";
}

export function changePassword(
  ctx: NodeContext,
  name: string,
  password: string,
  byUser: string,
): boolean {
  const user = ctx.broker.users.users.get(name);
  if (!user) return false;
  user.passwordHash = hashPassword(password);
  ctx.log.info({ user: name, by: byUser }, `Successfully changed password for user '${name}'`);
  ctx.broker.definitionsChanged();
  return true;
}

export function setUserTags(
  ctx: NodeContext,
  name: string,
  tags: string[],
  byUser: string,
): boolean {
  const user = ctx.broker.users.users.get(name);
  if (!user) return false;
  user.tags = tags;
  ctx.log.info({ user: name, tags, by: byUser }, `Set user tags for user '${name}' to [${tags}]`);
  ctx.broker.definitionsChanged();
  return true;
}

/** Deletes a user and every permission it had. */
export function deleteUser(ctx: NodeContext, name: string, byUser: string): boolean {
  const b = ctx.broker;
  if (!b.users.users.delete(name)) return false;
  for (const byUserMap of b.users.permissions.values()) byUserMap.delete(name);
  ctx.log.info({ user: name, by: byUser }, `Deleted user '${name}'`);
  b.definitionsChanged();
  return true;
}

export function setPermission(
  ctx: NodeContext,
  vhost: string,
  user: string,
  p: Permission,
  byUser: string,
): void {
  ctx.broker.users.setPermission(vhost, user, p);
  ctx.log.info(
    { vhost, user, ...p, by: byUser },
    `Set permissions for user '${user}' in vhost '${vhost}' to '${p.configure}', '${p.write}', '${p.read}'`,
  );
  ctx.broker.definitionsChanged();
}

export function clearPermission(
  ctx: NodeContext,
  vhost: string,
  user: string,
  byUser: string,
): boolean {
  const removed = ctx.broker.users.permissions.get(vhost)?.delete(user) ?? false;
  if (removed) {
    ctx.log.info(
      { vhost, user, by: byUser },
      `Cleared permissions for user '${user}' in vhost '${vhost}'`,
    );
    ctx.broker.definitionsChanged();
  }
  return removed;
}

/**
 * A permission from a request or a definitions file, each pattern checked the way the
 * broker will compile and run it (vhost/pattern-safety); `field` reads one string field.
 */
export function checkedPermission(
  field: (name: "configure" | "write" | "read") => string,
): Permission {
  const p = { configure: field("configure"), write: field("write"), read: field("read") };
  for (const [k, v] of Object.entries(p)) {
    const problem = patternProblem(v);
    if (problem) throw badRequest(`${k}: ${problem}`);
  }
  return p;
}
