import { setTimeout as sleep } from "node:timers/promises";
import { CtlError, EXIT, flagInt, flagSet, usageError } from "./args.js";
import { seg } from "./client.js";
import { info } from "./output.js";
import { expectParams, nodeName, type Verb, vhostOf } from "./verb.js";

export const purgeQueue: Verb = {
  name: "purge_queue",
  usage: "purge_queue [-p <vhost>] <queue>",
  description: "Purges a queue (removes all its ready messages)",
  async run(ctx) {
    const [queue] = expectParams(ctx, this, 1);
    const vhost = vhostOf(ctx);
    info(ctx.out, ctx.args, `Purging queue '${queue}' in vhost '${vhost}' ...`);
    await ctx.api.call("DELETE", `/api/queues/${seg(vhost)}/${seg(queue!)}/contents`);
    return EXIT.ok;
  },
};

export const deleteQueue: Verb = {
  name: "delete_queue",
  usage: "delete_queue [-p <vhost>] <queue> [--if-empty|-e] [--if-unused|-u]",
  description: "Deletes a queue",
  async run(ctx) {
    const [queue] = expectParams(ctx, this, 1);
    const vhost = vhostOf(ctx);
    const path = `/api/queues/${seg(vhost)}/${seg(queue!)}`;
    info(ctx.out, ctx.args, `Deleting queue '${queue}' on vhost '${vhost}' ...`);
    const before = await ctx.api.get<{ messages_ready: number }>(path);
    const query = [
      flagSet(ctx.args, "if-empty") ? "if-empty=true" : "",
      flagSet(ctx.args, "if-unused") ? "if-unused=true" : "",
    ].filter(Boolean);
    await ctx.api.call("DELETE", query.length ? `${path}?${query.join("&")}` : path);
    info(
      ctx.out,
      ctx.args,
      `Queue was successfully deleted with ${before.messages_ready} messages`,
    );
    return EXIT.ok;
  },
};

interface ConnectionItem {
  name: string;
  node: string;
  vhost: string;
}

/** A connection named as list_connections shows it: its name, or the "<node.name>" pid stand-in. */
function connectionName(id: string, node: string): string {
  const prefix = `<${node}.`;
  return id.startsWith(prefix) && id.endsWith(">") ? id.slice(prefix.length, -1) : id;
}

export const closeConnection: Verb = {
  name: "close_connection",
  usage: "close_connection <connection name or pid> <explanation>",
  description: "Closes a connection with CONNECTION_FORCED and the explanation",
  async run(ctx) {
    const [id, explanation] = expectParams(ctx, this, 2);
    const node = await nodeName(ctx);
    const name = connectionName(id!, node);
    info(ctx.out, ctx.args, `Closing connection ${id}, reason: ${explanation}...`);
    await ctx.api.call("DELETE", `/api/connections/${seg(name)}`, undefined, {
      "x-reason": explanation!,
    });
    return EXIT.ok;
  },
};

export const closeAllConnections: Verb = {
  name: "close_all_connections",
  usage:
    "close_all_connections [-p <vhost> | --global] [--limit <n>] [--per-connection-delay <ms>] <explanation>",
  description: "Closes all connections of a vhost, or of the node with --global",
  async run(ctx) {
    const [explanation] = expectParams(ctx, this, 1);
    const global = flagSet(ctx.args, "global");
    const vhost = vhostOf(ctx);
    const limit = flagInt(ctx.args, "limit");
    const delayMs = flagInt(ctx.args, "per-connection-delay") ?? 0;
    if (limit !== undefined && limit < 0) throw usageError("--limit must not be negative");
    const node = await nodeName(ctx);
    info(
      ctx.out,
      ctx.args,
      global
        ? `Closing all connections to node ${node} (across all vhosts)`
        : `Closing all connections in vhost ${vhost} on node ${node}`,
    );
    let list = (await ctx.api.get<ConnectionItem[]>("/api/connections")).filter(
      (c) => global || c.vhost === vhost,
    );
    if (limit !== undefined) list = list.slice(0, limit);
    let failed = 0;
    for (const c of list) {
      const r = await ctx.api.request("DELETE", `/api/connections/${seg(c.name)}`, undefined, {
        "x-reason": explanation!,
      });
      // A connection that went away meanwhile is fine.
      if (r.status >= 400 && r.status !== 404) failed++;
      if (delayMs > 0) await sleep(delayMs);
    }
    info(ctx.out, ctx.args, `Closed ${list.length - failed} connections`);
    if (failed > 0)
      throw new CtlError(EXIT.software, `Error: ${failed} connections could not be closed`);
    return EXIT.ok;
  },
};

export const QUEUE_CONNECTION_VERBS: Verb[] = [
  purgeQueue,
  deleteQueue,
  closeConnection,
  closeAllConnections,
];
