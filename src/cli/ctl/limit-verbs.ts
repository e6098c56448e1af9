import { parseBytes } from "../../runtime/resource-monitor.js";
import { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES } from "../../vhost/limits.js";
import { CtlError, EXIT, flagSet, flagString } from "./args.js";
import { apiError, seg } from "./client.js";
import { formatterOf, info, printRows } from "./output.js";
import { expectParams, nodeName, type Verb, type VerbContext, vhostOf } from "./verb.js";

type Limits = Record<string, number>;

function argumentError(text: string): CtlError {
  return new CtlError(EXIT.dataError, `Error (argument validation): ${text}`);
}

/** A limits definition ('{"max-connections": 10}'): known names, integer values. */
function parseLimits(text: string, names: Readonly<Record<string, string>>): Limits {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    throw argumentError(`the definition must be a JSON document, got ${text}`);
  }
  if (!d || typeof d !== "object" || Array.isArray(d))
    throw argumentError(`the definition must be a JSON object, got ${text}`);
  for (const [name, value] of Object.entries(d)) {
    if (!Object.hasOwn(names, name)) {
      throw new CtlError(
        EXIT.software,
        `Error:\nValidation failed\n\nUnrecognised terms [{<<"${name}">>,${JSON.stringify(value)}}] in limits\n` +
          `(known limits: ${Object.keys(names).join(", ")})`,
      );
    }
    if (!Number.isInteger(value))
      throw argumentError(`${name} must be an integer, got ${JSON.stringify(value)}`);
  }
  return d as Limits;
}

const json = (ctx: VerbContext) => formatterOf(ctx.args, ["table", "json"], "table") === "json";

/** One vhost's or user's limits as list_*_limits prints them: a JSON object, nothing if none. */
function printLimits(ctx: VerbContext, items: { value: Limits }[]): void {
  const value = items[0]?.value;
  if (json(ctx)) ctx.out.stdout(`${JSON.stringify(value ?? {})}\n`);
  else if (value) ctx.out.stdout(`${JSON.stringify(value)}\n`);
}

async function vhostLimits(ctx: VerbContext, vhost: string): Promise<Limits> {
  const items = await ctx.api.get<{ value: Limits }[]>(`/api/vhost-limits/${seg(vhost)}`);
  return items[0]?.value ?? {};
}

const setVhostLimits: Verb = {
  name: "set_vhost_limits",
  usage: "set_vhost_limits [-p <vhost>] <definition>",
  description: "Sets virtual host limits (max-connections, max-queues), replacing the old ones",
  async run(ctx) {
    const [definition] = expectParams(ctx, this, 1);
    const vhost = vhostOf(ctx);
    const limits = parseLimits(definition!, VHOST_LIMIT_NAMES);
    info(ctx.out, ctx.args, `Setting vhost limits to "${definition}" for vhost "${vhost}" ...`);
    // As RabbitMQ's runtime parameter: the definition replaces every limit of the vhost.
    const before = await vhostLimits(ctx, vhost);
    for (const [name, value] of Object.entries(limits))
      await ctx.api.call("PUT", `/api/vhost-limits/${seg(vhost)}/${name}`, { value });
    for (const name of Object.keys(before).filter((n) => !(n in limits)))
      await ctx.api.call("DELETE", `/api/vhost-limits/${seg(vhost)}/${name}`);
    return EXIT.ok;
  },
};

const clearVhostLimits: Verb = {
  name: "clear_vhost_limits",
  usage: "clear_vhost_limits [-p <vhost>]",
  description: "Clears virtual host limits",
  async run(ctx) {
    expectParams(ctx, this, 0);
    const vhost = vhostOf(ctx);
    info(ctx.out, ctx.args, `Clearing vhost "${vhost}" limits ...`);
    for (const name of Object.keys(await vhostLimits(ctx, vhost)))
      await ctx.api.call("DELETE", `/api/vhost-limits/${seg(vhost)}/${name}`);
    return EXIT.ok;
  },
};

const listVhostLimits: Verb = {
  name: "list_vhost_limits",
  usage: "list_vhost_limits [-p <vhost>] [--global] [--no-table-headers]",
  description: "Displays configured virtual host limits",
  async run(ctx) {
    expectParams(ctx, this, 0);
    if (flagSet(ctx.args, "global")) {
      const items = await ctx.api.get<{ vhost: string; value: Limits }[]>("/api/vhost-limits");
      info(ctx.out, ctx.args, "Listing limits for all vhosts ...");
      const rows = items.map((i) => ({
        vhost: i.vhost,
        limits: json(ctx) ? i.value : JSON.stringify(i.value),
      }));
      printRows(ctx.out, ctx.args, ["vhost", "limits"], rows);
      return EXIT.ok;
    }
    const vhost = vhostOf(ctx);
    const items = await ctx.api.get<{ value: Limits }[]>(`/api/vhost-limits/${seg(vhost)}`);
    info(ctx.out, ctx.args, `Listing limits for vhost "${vhost}" ...`);
    printLimits(ctx, items);
    return EXIT.ok;
  },
};

const setUserLimits: Verb = {
  name: "set_user_limits",
  usage: "set_user_limits <username> <definition>",
  description: "Sets user limits (max-connections, max-channels); other limits stay",
  async run(ctx) {
    const [user, definition] = expectParams(ctx, this, 2);
    const limits = parseLimits(definition!, USER_LIMIT_NAMES);
    info(ctx.out, ctx.args, `Setting user limits to "${definition}" for user "${user}" ...`);
    for (const [name, value] of Object.entries(limits))
      await ctx.api.call("PUT", `/api/user-limits/${seg(user!)}/${name}`, { value });
    return EXIT.ok;
  },
};

const clearUserLimits: Verb = {
  name: "clear_user_limits",
  usage: "clear_user_limits <username> <limit_type> | all",
  description: "Clears user connection/channel limits",
  async run(ctx) {
    const [user, which] = expectParams(ctx, this, 2);
    if (which !== "all" && !Object.hasOwn(USER_LIMIT_NAMES, which!)) {
      throw argumentError(`Limit type must be max-connections, max-channels or all, got ${which}`);
    }
    info(
      ctx.out,
      ctx.args,
      which === "all"
        ? `Clearing all limits for user "${user}" ...`
        : `Clearing "${which}" limit for user "${user}" ...`,
    );
    const items = await ctx.api.get<{ value: Limits }[]>(`/api/user-limits/${seg(user!)}`);
    const present = Object.keys(items[0]?.value ?? {});
    for (const name of present.filter((n) => which === "all" || n === which))
      await ctx.api.call("DELETE", `/api/user-limits/${seg(user!)}/${name}`);
    return EXIT.ok;
  },
};

const listUserLimits: Verb = {
  name: "list_user_limits",
  usage: "list_user_limits [--user <username>] [--global]",
  description: "Displays configured user limits",
  async run(ctx) {
    expectParams(ctx, this, 0);
    if (flagSet(ctx.args, "global")) {
      const items = await ctx.api.get<{ user: string; value: Limits }[]>("/api/user-limits");
      info(ctx.out, ctx.args, "Listing limits for all users ...");
      const rows = items.map((i) => ({
        user: i.user,
        limits: json(ctx) ? i.value : JSON.stringify(i.value),
      }));
      printRows(ctx.out, ctx.args, ["user", "limits"], rows);
      return EXIT.ok;
    }
    const user = flagString(ctx.args, "user") ?? "guest";
    const r = await ctx.api.request("GET", `/api/user-limits/${seg(user)}`);
    if (r.status === 404)
      throw new CtlError(EXIT.dataError, `Error:\nUser "${user}" does not exist`);
    if (r.status >= 400) throw apiError(r);
    info(ctx.out, ctx.args, `Listing limits for user "${user}" ...`);
    printLimits(ctx, r.body as { value: Limits }[]);
    return EXIT.ok;
  },
};

/** A size with RabbitMQ's units for `absolute` settings; "Invalid units." otherwise. */
function sizeArgument(text: string): number {
  try {
    return parseBytes(text);
  } catch {
    throw argumentError("Invalid units.");
  }
}

function fraction(text: string, max: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > max)
    throw argumentError("The threshold should be a fraction between 0.0 and 1.0");
  return n;
}

const setVmMemoryHighWatermark: Verb = {
  name: "set_vm_memory_high_watermark",
  usage: "set_vm_memory_high_watermark <fraction> | absolute <value>",
  description:
    "Sets the vm_memory_high_watermark setting (applies at once, not kept over a restart)",
  async run(ctx) {
    const params = expectParams(ctx, this, 1, 2);
    const absolute = params[0] === "absolute";
    if (absolute !== (params.length === 2)) throw argumentError(`Usage: warrenctl ${this.usage}`);
    const body = absolute
      ? { absolute: sizeArgument(params[1]!) }
      : { relative: fraction(params[0]!, 1) };
    const node = await nodeName(ctx);
    info(
      ctx.out,
      ctx.args,
      "absolute" in body
        ? `Setting memory threshold on ${node} to ${body.absolute} bytes ...`
        : `Setting memory threshold on ${node} to ${body.relative} ...`,
    );
    await ctx.api.call("PUT", "/api/warren/vm-memory-high-watermark", body);
    return EXIT.ok;
  },
};

const setDiskFreeLimit: Verb = {
  name: "set_disk_free_limit",
  usage: "set_disk_free_limit <disk_limit> | mem_relative <fraction>",
  description: "Sets the disk_free_limit setting (applies at once, not kept over a restart)",
  async run(ctx) {
    const params = expectParams(ctx, this, 1, 2);
    const relative = params[0] === "mem_relative";
    if (relative !== (params.length === 2)) throw argumentError(`Usage: warrenctl ${this.usage}`);
    let body: { mem_relative: number } | { absolute: number };
    if (relative) {
      const n = Number(params[1]);
      if (!Number.isFinite(n) || n <= 0)
        throw argumentError("The fraction must be a positive number");
      body = { mem_relative: n };
    } else body = { absolute: sizeArgument(params[0]!) };
    const node = await nodeName(ctx);
    info(
      ctx.out,
      ctx.args,
      "absolute" in body
        ? `Setting disk free limit on ${node} to ${body.absolute} bytes ...`
        : `Setting disk free limit on ${node} to ${body.mem_relative} times the total RAM ...`,
    );
    await ctx.api.call("PUT", "/api/warren/disk-free-limit", body);
    return EXIT.ok;
  },
};

/** Vhost and user limits, and the memory and disk alarm thresholds. */
export const LIMIT_VERBS: Verb[] = [
  setVhostLimits,
  clearVhostLimits,
  listVhostLimits,
  setUserLimits,
  clearUserLimits,
  listUserLimits,
  setVmMemoryHighWatermark,
  setDiskFreeLimit,
];
