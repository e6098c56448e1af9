import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { CtlError, EXIT, flagInt } from "./args.js";
import { info } from "./output.js";
import { expectParams, nodeName, type Verb, type VerbContext } from "./verb.js";

/** Reads a definitions file, or stdin for "-". */
function readInput(path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new CtlError(EXIT.dataError, `Error: cannot read ${path}: ${(e as Error).message}`);
  }
}

export const exportDefinitions: Verb = {
  name: "export_definitions",
  usage: "export_definitions <path | ->",
  description:
    "Exports definitions (users, vhosts, permissions, policies, queues, exchanges, bindings) as RabbitMQ JSON",
  async run(ctx) {
    const [path] = expectParams(ctx, this, 1);
    const defs = await ctx.api.get("/api/definitions");
    const text = `${JSON.stringify(defs, null, 2)}\n`;
    if (path === "-") {
      ctx.out.stdout(text);
      return EXIT.ok;
    }
    info(ctx.out, ctx.args, `Exporting definitions in JSON to a file at "${path}" ...`);
    writeFileSync(path!, text);
    return EXIT.ok;
  },
};

export const importDefinitions: Verb = {
  name: "import_definitions",
  usage: "import_definitions <path | ->",
  description: "Imports definitions in RabbitMQ's JSON format",
  async run(ctx) {
    const [path] = expectParams(ctx, this, 1);
    const text = readInput(path!);
    try {
      JSON.parse(text);
    } catch (e) {
      throw new CtlError(EXIT.dataError, `Error: ${path} is not JSON: ${(e as Error).message}`);
    }
    info(ctx.out, ctx.args, `Importing definitions in JSON from a file at "${path}" ...`);
    await ctx.api.call("POST", "/api/definitions", text);
    info(ctx.out, ctx.args, "Successfully imported definitions");
    return EXIT.ok;
  },
};

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function answers(ctx: VerbContext): Promise<string | undefined> {
  try {
    const r = await ctx.api.request("GET", "/api/overview");
    return r.status === 200 ? ((r.body as { node?: string }).node ?? "") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * wait [<pidfile>] [--pid <pid>] [--timeout <s>]: waits until the node answers
 * (and, given a pid or pid file, while that process is alive), as rabbitmqctl wait.
 */
export const wait: Verb = {
  name: "wait",
  usage: "wait [<pidfile>] [--pid <pid>] [--timeout <seconds>]",
  description: "Waits for the node to start (and answer its management API)",
  async run(ctx) {
    expectParams(ctx, this, 0, 1);
    const deadline = Date.now() + ctx.api.target.timeoutMs;
    const pidFile = ctx.params[0];
    let pid = flagInt(ctx.args, "pid");
    if (pidFile) {
      info(ctx.out, ctx.args, `Waiting for pid file '${pidFile}' to appear`);
      while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") {
        if (Date.now() > deadline)
          throw new CtlError(EXIT.timeout, `Error: pid file ${pidFile} did not appear`);
        await sleep(200);
      }
      pid = Number(readFileSync(pidFile, "utf8").trim());
      info(ctx.out, ctx.args, `pid is ${pid}`);
    }
    info(ctx.out, ctx.args, `Waiting for node ${ctx.api.target.label} to start ...`);
    for (;;) {
      const node = await answers(ctx);
      if (node !== undefined) {
        info(ctx.out, ctx.args, `Node ${node} is running`);
        return EXIT.ok;
      }
      if (pid !== undefined && !processAlive(pid))
        throw new CtlError(
          EXIT.unavailable,
          `Error: process ${pid} exited before the node started`,
        );
      if (Date.now() > deadline)
        throw new CtlError(EXIT.timeout, "Error: timed out waiting for the node");
      await sleep(200);
    }
  },
};

/** stop: asks the node to stop as SIGTERM does and waits until it no longer answers. */
export const stop: Verb = {
  name: "stop",
  usage: "stop [<pidfile>]",
  description: "Stops the node (connections are closed with 320 CONNECTION_FORCED)",
  async run(ctx) {
    expectParams(ctx, this, 0, 1);
    const node = await nodeName(ctx);
    info(ctx.out, ctx.args, `Stopping and halting node ${node} ...`);
    await ctx.api.call("POST", "/api/warren/stop", {});
    const deadline = Date.now() + ctx.api.target.timeoutMs;
    const pidFile = ctx.params[0];
    const pid =
      pidFile && existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : undefined;
    while ((await answers(ctx)) !== undefined || (pid !== undefined && processAlive(pid))) {
      if (Date.now() > deadline)
        throw new CtlError(EXIT.timeout, `Error: node ${node} did not stop in time`);
      await sleep(100);
    }
    return EXIT.ok;
  },
};

export const NODE_VERBS: Verb[] = [exportDefinitions, importDefinitions, wait, stop];
