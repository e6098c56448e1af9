import { AmqpError } from "../../protocol/amqp-error.js";
import { fromPlainJson, toTaggedJson } from "../../protocol/field-table-json.js";
import type { MetadataCommand } from "../../vhost/commands/command-types.js";
import { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES } from "../../vhost/limits.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import { addVhost, checkedPermission, putUser, setPermission } from "../api/access-actions.js";
import { submitChange } from "../api/api-helpers.js";
import { limitValue, setUserLimit, setVhostLimit } from "../api/limits-api.js";
import { badRequest, boolField, objectField } from "../http/http-types.js";
import type { NodeContext } from "../node-context.js";
import { parseTags } from "../views/access-view.js";

type Json = Record<string, unknown>;

function list(defs: Json, key: string): Json[] {
  const v = defs[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`'${key}' must be a list`);
  for (const item of v) {
    if (item === null || typeof item !== "object" || Array.isArray(item))
      throw badRequest(`'${key}' must be a list of objects, got ${JSON.stringify(item)}`);
  }
  return v as Json[];
}

function str(o: Json, key: string, fallback?: string): string {
  const v = o[key];
  if (typeof v === "string") return v;
  if (fallback !== undefined && (v === undefined || v === null)) return fallback;
  throw badRequest(`definitions: '${key}' must be a string in ${JSON.stringify(o)}`);
}

/** A queue or exchange name, which AMQP methods carry as a short string. */
function name(o: Json): string {
  const n = str(o, "name");
  if (Buffer.byteLength(n) > 255)
    throw badRequest(`definitions: name '${n.slice(0, 40)}...' is longer than 255 bytes`);
  return n;
}

/** Arguments as an object ({} when absent; RabbitMQ writes none as []), as tagged JSON. */
function args(o: Json) {
  return toTaggedJson(fromPlainJson(objectField(o, "arguments") ?? {}));
}

/** A limits object ({"max-connections": 10}); RabbitMQ writes none as []. */
function limitEntries(limits: unknown): [string, unknown][] {
  if (limits === undefined || limits === null || Array.isArray(limits)) return [];
  if (typeof limits !== "object") throw badRequest(`limits must be an object, got ${limits}`);
  return Object.entries(limits as Json);
}

async function importUserLimits(ctx: NodeContext, u: Json, byUser: string): Promise<void> {
  const user = ctx.broker.users.users.get(str(u, "name"))!;
  for (const [name, value] of limitEntries(u.limits)) {
    const n = limitValue(USER_LIMIT_NAMES, "user limits", name, value);
    await setUserLimit(ctx, user, name as keyof typeof USER_LIMIT_NAMES, n, byUser);
  }
}

async function importVhostLimits(
  ctx: NodeContext,
  name: string,
  limits: unknown,
  byUser: string,
): Promise<void> {
  const vhost = ctx.broker.vhosts.get(name);
  if (!vhost) throw badRequest(`vhost_not_found: '${name}'`);
  for (const [limit, value] of limitEntries(limits)) {
    const n = limitValue(VHOST_LIMIT_NAMES, "limits", limit, value);
    await setVhostLimit(ctx, vhost, limit as keyof typeof VHOST_LIMIT_NAMES, n, byUser);
  }
}

/** Milliseconds an import may run before it yields the event loop to everyone else. */
const SLICE_MS = 10;

/**
 * Yields the event loop every SLICE_MS: importing 20,000 queues and bindings in
 * one go held it for 1.6 s (every client's heartbeats with it).
 */
class Slicer {
  private since = performance.now();

  async pause(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

/** Hands policies to the policy store once it exists. */
export type PolicyImporter = (policies: Json[], vhostOverride?: string) => Promise<void>;

export interface ImportSummary {
  users: number;
  vhosts: number;
  permissions: number;
  policies: number;
  queues: number;
  exchanges: number;
  bindings: number;
}

/**
 * Applies RabbitMQ definitions (the JSON of GET /api/definitions or
 * `rabbitmqctl export_definitions`) in RabbitMQ's order: users, vhosts,
 * permissions, policies, queues, exchanges, bindings. Existing objects must be
 * equivalent (the same 406 rules as a declare); the first problem stops the import
 * with a 400 that names it. With `intoVhost`, every object goes to that vhost.
 */
export async function importDefinitions(
  ctx: NodeContext,
  defs: Json,
  byUser: string,
  importPolicies: PolicyImporter,
  intoVhost?: string,
): Promise<ImportSummary> {
  const b = ctx.broker;
  const slicer = new Slicer();
  // Parsing a large body took its share of this turn already.
  await new Promise((resolve) => setImmediate(resolve));
  const vhostOf = (o: Json) => intoVhost ?? str(o, "vhost", "/");
  const summary: ImportSummary = {
    users: 0,
    vhosts: 0,
    permissions: 0,
    policies: 0,
    queues: 0,
    exchanges: 0,
    bindings: 0,
  };
  if (!intoVhost) {
    for (const u of list(defs, "users")) {
      await slicer.pause();
      await putUser(
        ctx,
        str(u, "name"),
        {
          passwordHash: str(u, "password_hash", ""),
          hashingAlgorithm: str(u, "hashing_algorithm", "rabbit_password_hashing_sha256"),
        },
        parseTags(u.tags),
        byUser,
      );
      summary.users++;
    }
    for (const v of list(defs, "vhosts")) {
      await slicer.pause();
      await addVhost(ctx, str(v, "name"), byUser);
      summary.vhosts++;
    }
    for (const u of list(defs, "users")) await importUserLimits(ctx, u, byUser);
    for (const v of list(defs, "vhosts"))
      await importVhostLimits(ctx, str(v, "name"), v.limits, byUser);
    for (const p of list(defs, "permissions")) {
      await slicer.pause();
      const vhost = str(p, "vhost");
      const user = str(p, "user");
      if (!b.vhosts.has(vhost)) throw badRequest(`vhost_not_found: '${vhost}'`);
      if (!b.users.users.has(user)) throw badRequest(`user_not_found: '${user}'`);
      const permission = checkedPermission((k) => str(p, k));
      await setPermission(ctx, vhost, user, permission, byUser);
      summary.permissions++;
    }
  }
  for (const p of list(defs, "parameters")) {
    if (p.component === "vhost-limits") await importVhostLimits(ctx, vhostOf(p), p.value, byUser);
  }
  const policies = list(defs, "policies");
  for (const p of policies) {
    await slicer.pause();
    await importPolicies([p], intoVhost);
  }
  summary.policies = policies.length;
  const vhost = (o: Json): VirtualHost => {
    const name = vhostOf(o);
    const v = b.vhosts.get(name);
    if (!v) throw badRequest(`vhost_not_found: '${name}'`);
    return v;
  };
  // Each object is a command, as a client's declaration would be, without the rules
  // that are a client's (amq.* names, max-queues); the first refusal stops the import.
  const submit = async (command: MetadataCommand | (() => MetadataCommand)) => {
    try {
      await submitChange(ctx, typeof command === "function" ? command() : command);
    } catch (e) {
      if (!(e instanceof AmqpError)) throw e;
      const at = e.replyText.indexOf(" - ");
      throw badRequest(at < 0 ? e.replyText : e.replyText.slice(at + 3));
    }
  };
  for (const q of list(defs, "queues")) {
    await slicer.pause();
    await submit({
      type: "queue.declare",
      vhost: vhost(q).name,
      queue: name(q),
      durable: boolField(q, "durable", true),
      exclusive: false,
      autoDelete: boolField(q, "auto_delete", false),
      arguments: args(q),
    });
    summary.queues++;
  }
  for (const e of list(defs, "exchanges")) {
    await slicer.pause();
    await submit({
      type: "exchange.declare",
      vhost: vhost(e).name,
      exchange: name(e),
      exchangeType: str(e, "type"),
      durable: boolField(e, "durable", true),
      autoDelete: boolField(e, "auto_delete", false),
      internal: boolField(e, "internal", false),
      arguments: args(e),
    });
    summary.exchanges++;
  }
  for (const bd of list(defs, "bindings")) {
    await slicer.pause();
    const v = vhost(bd);
    await submit(() => {
      // The source is looked for first, then the destination (the command checks the
      // destination first, as queue.bind does).
      const source = v.requireExchange(str(bd, "source")).name;
      const destination = str(bd, "destination");
      const toExchange = str(bd, "destination_type", "queue") === "exchange";
      if (toExchange) v.requireExchange(destination);
      else v.requireQueue(destination);
      return {
        type: "binding.add",
        vhost: v.name,
        source,
        destinationKind: toExchange ? "exchange" : "queue",
        destination,
        routingKey: str(bd, "routing_key", ""),
        arguments: args(bd),
      };
    });
    summary.bindings++;
  }
  ctx.log.info(
    { ...summary, by: byUser },
    `Imported definitions: ${summary.users} users, ${summary.vhosts} vhosts, ${summary.permissions} permissions, ` +
      `${summary.policies} policies, ${summary.queues} queues, ${summary.exchanges} exchanges, ${summary.bindings} bindings`,
  );
  return summary;
}
