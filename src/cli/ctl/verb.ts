import { flagString, type ParsedArgs, usageError } from "./args.js";
import type { MgmtClient } from "./client.js";
import type { Out } from "./output.js";

/** What a verb gets: its arguments (after the verb's name), the API client and the output. */
export interface VerbContext {
  readonly args: ParsedArgs;
  /** Positional arguments after the verb itself. */
  readonly params: readonly string[];
  readonly api: MgmtClient;
  readonly out: Out;
  readonly env: NodeJS.ProcessEnv;
}

/** One warrenctl command; `run` returns the exit code. */
export interface Verb {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
  run(ctx: VerbContext): Promise<number>;
}

/** The -p/--vhost flag, "/" when absent (as rabbitmqctl). */
export function vhostOf(ctx: VerbContext): string {
  return flagString(ctx.args, "vhost") ?? "/";
}

/** Exactly `n` positional arguments, or a usage error naming the verb's usage. */
export function expectParams(
  ctx: VerbContext,
  verb: Verb,
  min: number,
  max = min,
): readonly string[] {
  if (ctx.params.length < min || ctx.params.length > max) {
    throw usageError(
      `Error (argument validation): wrong number of arguments\nUsage: warrenctl ${verb.usage}`,
    );
  }
  return ctx.params;
}

/** The node's own name (warren@host), for messages. */
export async function nodeName(ctx: VerbContext): Promise<string> {
  const overview = await ctx.api.get<{ node?: string }>("/api/overview");
  return overview.node ?? ctx.api.target.label;
}
