#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VERSION } from "../version.js";
import { ACCESS_VERBS } from "./ctl/access-verbs.js";
import { CtlError, EXIT, flagSet, parseArgs } from "./ctl/args.js";
import { MgmtClient, resolveTarget } from "./ctl/client.js";
import { clusterStatus } from "./ctl/cluster-status.js";
import { CLUSTER_VERBS } from "./ctl/cluster-verbs.js";
import { DIAGNOSTIC_VERBS } from "./ctl/diagnostics.js";
import { LIMIT_VERBS } from "./ctl/limit-verbs.js";
import { LIST_VERBS, listUserPermissions } from "./ctl/list-verbs.js";
import { NODE_VERBS } from "./ctl/node-verbs.js";
import type { Out } from "./ctl/output.js";
import { POLICY_VERBS } from "./ctl/policy-verbs.js";
import { QUEUE_CONNECTION_VERBS } from "./ctl/queue-connection-verbs.js";
import { QUORUM_VERBS } from "./ctl/quorum-verbs.js";
import { status } from "./ctl/status.js";
import { UNROUTABLE_VERBS } from "./ctl/unroutable-verbs.js";
import type { Verb } from "./ctl/verb.js";

/** Every verb warrenctl knows, by name. */
export const VERBS: ReadonlyMap<string, Verb> = new Map(
  [
    status,
    clusterStatus,
    ...LIST_VERBS,
    listUserPermissions,
    ...ACCESS_VERBS,
    ...POLICY_VERBS,
    ...LIMIT_VERBS,
    ...QUEUE_CONNECTION_VERBS,
    ...NODE_VERBS,
    ...CLUSTER_VERBS,
    ...QUORUM_VERBS,
    ...DIAGNOSTIC_VERBS,
    ...UNROUTABLE_VERBS,
  ].map((v) => [v.name, v]),
);

// rabbitmq-diagnostics and older rabbitmqctl names for the same commands.
const ALIASES: Record<string, string> = { await_startup: "wait", node_health_check: "doctor" };

function usage(): string {
  const width = Math.max(...[...VERBS.keys()].map((k) => k.length));
  return (
    "Usage: warrenctl [--node <node> | --url <url>] [--username <u>] [--password <p>] [--quiet]\n" +
    "                 [--timeout <s>] [--formatter table|json] <command> [<command options>]\n\n" +
    "Reaches the node through its management API (default http://127.0.0.1:15672, guest/guest).\n\n" +
    "Commands:\n" +
    [...VERBS.values()].map((v) => `  ${v.name.padEnd(width)}  ${v.description}`).join("\n") +
    "\n\nUse 'warrenctl help <command>' to learn more about a specific command.\n"
  );
}

/** Runs warrenctl with these arguments; returns the exit code. */
export async function runWarrenctl(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: Out,
): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (flagSet(args, "version")) {
      out.stdout(`${VERSION}\n`);
      return EXIT.ok;
    }
    const [name, ...params] = args.positional;
    if (!name || name === "help" || flagSet(args, "help")) {
      const topic = name === "help" ? params[0] : flagSet(args, "help") ? name : undefined;
      const verb = topic ? VERBS.get(ALIASES[topic] ?? topic) : undefined;
      out.stdout(verb ? `Usage: warrenctl ${verb.usage}\n\n${verb.description}\n` : usage());
      return name ? EXIT.ok : EXIT.usage;
    }
    const verb = VERBS.get(ALIASES[name] ?? name);
    if (!verb) {
      out.stderr(`Command '${name}' not found.\n\n${usage()}`);
      return EXIT.usage;
    }
    const api = new MgmtClient(resolveTarget(args, env));
    return await verb.run({ args, params, api, out, env });
  } catch (e) {
    if (e instanceof CtlError) {
      out.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    out.stderr(`Error: ${(e as Error).stack ?? e}\n`);
    return EXIT.software;
  }
}

/** The process entry (bin/warrenctl.js): exit status as rabbitmqctl's. */
export async function main(): Promise<void> {
  // A closed pipe (warrenctl list_queues | head) is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  process.exitCode = await runWarrenctl(process.argv.slice(2), process.env, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
