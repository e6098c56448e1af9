import { CtlError, EXIT, flagString } from "./args.js";
import { seg } from "./client.js";
import { info } from "./output.js";
import { expectParams, type Verb, type VerbContext, vhostOf } from "./verb.js";

async function exists(ctx: VerbContext, path: string): Promise<boolean> {
  const r = await ctx.api.request("GET", path);
  return r.status === 200;
}

async function requireUser(ctx: VerbContext, user: string): Promise<void> {
  if (!(await exists(ctx, `/api/users/${seg(user)}`)))
    throw new CtlError(EXIT.dataError, `Error:\nUser "${user}" does not exist`);
}

export const addVhost: Verb = {
  name: "add_vhost",
  usage: "add_vhost <vhost> [--default-queue-type <classic|quorum|stream>]",
  description:
    "Creates a virtual host; --default-queue-type names the type of queues declared in it without x-queue-type",
  async run(ctx) {
    const [vhost] = expectParams(ctx, this, 1);
    const dqt = flagString(ctx.args, "default-queue-type");
    info(ctx.out, ctx.args, `Adding vhost "${vhost}" ...`);
    await ctx.api.call(
      "PUT",
      `/api/vhosts/${seg(vhost!)}`,
      dqt === undefined ? {} : { default_queue_type: dqt },
    );
    return EXIT.ok;
  },
};

export const deleteVhost: Verb = {
  name: "delete_vhost",
  usage: "delete_vhost <vhost>",
  description: "Deletes a virtual host",
  async run(ctx) {
    const [vhost] = expectParams(ctx, this, 1);
    info(ctx.out, ctx.args, `Deleting vhost "${vhost}" ...`);
    await ctx.api.call("DELETE", `/api/vhosts/${seg(vhost!)}`);
    return EXIT.ok;
  },
};

export const addUser: Verb = {
  name: "add_user",
  usage: "add_user <username> <password>",
  description:
    "Creates a new user. It has no permissions in any virtual host until set_permissions",
  async run(ctx) {
    const [user, password] = expectParams(ctx, this, 2);
    info(ctx.out, ctx.args, `Adding user "${user}" ...`);
    if (await exists(ctx, `/api/users/${seg(user!)}`))
      throw new CtlError(EXIT.dataError, `Error:\nUser "${user}" already exists`);
    await ctx.api.call("PUT", `/api/users/${seg(user!)}`, { password, tags: "" });
    info(
      ctx.out,
      ctx.args,
      "Done. Don't forget to grant the user permissions to some virtual hosts! See 'warrenctl help set_permissions' to learn more.",
    );
    return EXIT.ok;
  },
};

export const deleteUser: Verb = {
  name: "delete_user",
  usage: "delete_user <username>",
  description: "Removes a user and its permissions",
  async run(ctx) {
    const [user] = expectParams(ctx, this, 1);
    info(ctx.out, ctx.args, `Deleting user "${user}" ...`);
    await requireUser(ctx, user!);
    await ctx.api.call("DELETE", `/api/users/${seg(user!)}`);
    return EXIT.ok;
  },
};

export const changePassword: Verb = {
  name: "change_password",
  usage: "change_password <username> <password>",
  description: "Changes the user password",
  async run(ctx) {
    const [user, password] = expectParams(ctx, this, 2);
    info(ctx.out, ctx.args, `Changing password for user "${user}" ...`);
    await requireUser(ctx, user!);
    const current = await ctx.api.get<{ tags: string[] }>(`/api/users/${seg(user!)}`);
    await ctx.api.call("PUT", `/api/users/${seg(user!)}`, { password, tags: current.tags });
    return EXIT.ok;
  },
};

export const setUserTags: Verb = {
  name: "set_user_tags",
  usage: "set_user_tags <username> <tag> [...]",
  description: "Sets user tags (replacing the ones it had)",
  async run(ctx) {
    expectParams(ctx, this, 1, Number.MAX_SAFE_INTEGER);
    const [user, ...tags] = ctx.params;
    info(ctx.out, ctx.args, `Setting tags for user "${user}" to [${tags.join(", ")}] ...`);
    await requireUser(ctx, user!);
    // Keeps the password: PUT without one only changes the tags.
    await ctx.api.call("PUT", `/api/users/${seg(user!)}`, { tags });
    return EXIT.ok;
  },
};

export const setPermissions: Verb = {
  name: "set_permissions",
  usage: "set_permissions [-p <vhost>] <username> <conf> <write> <read>",
  description: "Sets user permissions for a vhost",
  async run(ctx) {
    const [user, configure, write, read] = expectParams(ctx, this, 4);
    const vhost = vhostOf(ctx);
    info(ctx.out, ctx.args, `Setting permissions for user "${user}" in vhost "${vhost}" ...`);
    await ctx.api.call("PUT", `/api/permissions/${seg(vhost)}/${seg(user!)}`, {
      configure,
      write,
      read,
    });
    return EXIT.ok;
  },
};

export const clearPermissions: Verb = {
  name: "clear_permissions",
  usage: "clear_permissions [-p <vhost>] <username>",
  description: "Revokes user permissions for a vhost",
  async run(ctx) {
    const [user] = expectParams(ctx, this, 1);
    const vhost = vhostOf(ctx);
    info(ctx.out, ctx.args, `Clearing permissions for user "${user}" in vhost "${vhost}" ...`);
    await ctx.api.call("DELETE", `/api/permissions/${seg(vhost)}/${seg(user!)}`);
    return EXIT.ok;
  },
};

export const ACCESS_VERBS: Verb[] = [
  addVhost,
  deleteVhost,
  addUser,
  deleteUser,
  changePassword,
  setUserTags,
  setPermissions,
  clearPermissions,
];
