import { CtlError, EXIT, flagInt, flagString } from "./args.js";
import { seg } from "./client.js";
import { info } from "./output.js";
import { expectParams, type Verb, type VerbContext, vhostOf } from "./verb.js";

function parseDefinition(text: string): Record<string, unknown> {
  try {
    const d = JSON.parse(text);
    if (d && typeof d === "object" && !Array.isArray(d)) return d;
  } catch {
    // fall through
  }
  throw new CtlError(EXIT.usage, `Error: the definition must be a JSON object, got ${text}`);
}

function setVerb(name: string, kind: "policies" | "operator-policies", what: string): Verb {
  return {
    name,
    usage: `${name} [-p <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>`,
    description:
      kind === "policies"
        ? "Sets or updates a policy"
        : "Sets an operator policy that overrides a subset of arguments in user policies",
    async run(ctx: VerbContext) {
      const [policy, pattern, definition] = expectParams(ctx, this, 3);
      const vhost = vhostOf(ctx);
      const priority = flagInt(ctx.args, "priority") ?? 0;
      info(
        ctx.out,
        ctx.args,
        `Setting ${what} "${policy}" for pattern "${pattern}" to "${definition}" with priority "${priority}" for vhost "${vhost}" ...`,
      );
      await ctx.api.call("PUT", `/api/${kind}/${seg(vhost)}/${seg(policy!)}`, {
        pattern,
        definition: parseDefinition(definition!),
        priority,
        "apply-to": flagString(ctx.args, "apply-to") ?? "all",
      });
      return EXIT.ok;
    },
  };
}

function clearVerb(name: string, kind: "policies" | "operator-policies", what: string): Verb {
  return {
    name,
    usage: `${name} [-p <vhost>] <name>`,
    description: `Clears (removes) ${kind === "policies" ? "a policy" : "an operator policy"}`,
    async run(ctx: VerbContext) {
      const [policy] = expectParams(ctx, this, 1);
      const vhost = vhostOf(ctx);
      info(ctx.out, ctx.args, `Clearing ${what} "${policy}" on vhost "${vhost}" ...`);
      await ctx.api.call("DELETE", `/api/${kind}/${seg(vhost)}/${seg(policy!)}`);
      return EXIT.ok;
    },
  };
}

export const POLICY_VERBS: Verb[] = [
  setVerb("set_policy", "policies", "policy"),
  clearVerb("clear_policy", "policies", "policy"),
  setVerb("set_operator_policy", "operator-policies", "operator policy override"),
  clearVerb("clear_operator_policy", "operator-policies", "operator policy"),
];
