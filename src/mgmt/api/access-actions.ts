import { HASHING_ALGORITHM, hashPassword } from "../../vhost/password-hash.js";
import { patternProblem } from "../../vhost/pattern-safety.js";
import type { Permission } from "../../vhost/users.js";
import { badRequest } from "../http/http-types.js";
import type { NodeContext } from "../node-context.js";
import { submitChange } from "./api-helpers.js";

/**
 * Changes to vhosts, users and permissions, shared by the HTTP API and definitions
 * import. Each submits its metadata command (which saves the definitions) and logs
 * what it did and who asked, in RabbitMQ's words where operators grep for them.
 */

/** Adds a vhost; a default queue type is set on an existing vhost too (RabbitMQ's PUT). */
export async function addVhost(
  ctx: NodeContext,
  name: string,
  byUser: string,
  defaultQueueType?: string,
): Promise<boolean> {
  const { created } = await submitChange(ctx, {
    type: "vhost.add",
    vhost: name,
    ...(defaultQueueType === undefined ? {} : { defaultQueueType }),
  });
  if (created) ctx.log.info({ vhost: name, by: byUser }, `Adding vhost '${name}'`);
  return created;
}

/**
 * Deletes a vhost as RabbitMQ does: its connections are closed, its queues
 * (and their messages) and exchanges go, and so do the permissions in it.
 */
export async function deleteVhost(
  ctx: NodeContext,
  name: string,
  byUser: string,
): Promise<boolean> {
  if (!ctx.broker.vhosts.has(name)) return false;
  ctx.log.info({ vhost: name, by: byUser }, `Deleting vhost '${name}'`);
  return (await submitChange(ctx, { type: "vhost.delete", vhost: name })).deleted;
}

/**
 * Creates or updates a user: a password (hashed here, with its random salt, before
 * the command is made) or a ready hash, and tags.
 */
export async function putUser(
  ctx: NodeContext,
  name: string,
  secret: { password: string } | { passwordHash: string; hashingAlgorithm: string },
  tags: string[],
  byUser: string,
): Promise<"created" | "updated"> {
  const { created } = await submitChange(ctx, {
    type: "user.put",
    user: name,
    passwordHash:
      "password" in secret
        ? hashPassword(secret.password, ctx.broker.randomBytes(4))
        : secret.passwordHash,
    hashingAlgorithm: "password" in secret ? HASHING_ALGORITHM : secret.hashingAlgorithm,
    tags,
  });
  if (created) ctx.log.info({ user: name, tags, by: byUser }, `Created user '${name}'`);
  else ctx.log.info({ user: name, tags, by: byUser }, `Updated user '${name}' (tags: ${tags})`);
  return created ? "created" : "updated";
}

/** Deletes a user and every permission it had. */
export async function deleteUser(ctx: NodeContext, name: string, byUser: string): Promise<boolean> {
  const { deleted } = await submitChange(ctx, { type: "user.delete", user: name });
  if (deleted) ctx.log.info({ user: name, by: byUser }, `Deleted user '${name}'`);
  return deleted;
}

export async function setPermission(
  ctx: NodeContext,
  vhost: string,
  user: string,
  p: Permission,
  byUser: string,
): Promise<void> {
  await submitChange(ctx, { type: "permission.set", vhost, user, ...p });
  ctx.log.info(
    { vhost, user, ...p, by: byUser },
    `Set permissions for user '${user}' in vhost '${vhost}' to '${p.configure}', '${p.write}', '${p.read}'`,
  );
}

export async function clearPermission(
  ctx: NodeContext,
  vhost: string,
  user: string,
  byUser: string,
): Promise<boolean> {
  const { cleared } = await submitChange(ctx, { type: "permission.clear", vhost, user });
  if (cleared) {
    ctx.log.info(
      { vhost, user, by: byUser },
      `Cleared permissions for user '${user}' in vhost '${vhost}'`,
    );
  }
  return cleared;
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
