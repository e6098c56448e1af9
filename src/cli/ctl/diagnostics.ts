import net from "node:net";
import type { DoctorReport } from "../../doctor/doctor.js";
import { reportText } from "../../doctor/report-text.js";
import { CtlError, EXIT, flagSet, flagString, usageError } from "./args.js";
import { formatterOf, info } from "./output.js";
import { checkIfNodeIsQuorumCritical } from "./quorum-critical.js";
import { expectParams, nodeName, type Verb, type VerbContext } from "./verb.js";

interface Listener {
  interface: string;
  port: number;
  protocol: string;
  purpose: string;
}

function json(ctx: VerbContext): boolean {
  return formatterOf(ctx.args, ["table", "json"], "table") === "json";
}

export const ping: Verb = {
  name: "ping",
  usage: "ping",
  description: "Checks that the node is up and answers its management API",
  async run(ctx) {
    info(
      ctx.out,
      ctx.args,
      `Will ping ${ctx.api.target.label}. This checks that the node answers its management API. Timeout: ${ctx.api.target.timeoutMs} ms.`,
    );
    await ctx.api.get("/api/overview");
    if (json(ctx)) ctx.out.stdout(`${JSON.stringify({ result: "ok" })}\n`);
    else ctx.out.stdout("Ping succeeded\n");
    return EXIT.ok;
  },
};

export const checkRunning: Verb = {
  name: "check_running",
  usage: "check_running",
  description: "Checks that the broker is running and serving AMQP clients",
  async run(ctx) {
    const node = await nodeName(ctx);
    info(ctx.out, ctx.args, `Checking if Warren is running on node ${node} ...`);
    const r = await ctx.api.request("GET", "/api/health/checks/ready-to-serve-clients");
    if (r.status !== 200) {
      throw new CtlError(
        EXIT.unavailable,
        `Error:\nWarren on node ${node} is not running or has not fully booted yet`,
      );
    }
    const message = `Warren on node ${node} is fully booted and running`;
    ctx.out.stdout(json(ctx) ? `${JSON.stringify({ message })}\n` : `${message}\n`);
    return EXIT.ok;
  },
};

function alarmCheck(name: string, path: string, scope: string): Verb {
  return {
    name,
    usage: name,
    description: `Health check that fails (exit 69) if there are alarms in effect ${scope}`,
    async run(ctx) {
      const node = await nodeName(ctx);
      info(ctx.out, ctx.args, `Asking node ${node} to report any local resource alarms ...`);
      const r = await ctx.api.request("GET", path);
      const body = r.body as { alarms?: { resource: string; reason: string }[] };
      if (r.status === 200) {
        ctx.out.stdout(
          json(ctx)
            ? `${JSON.stringify({ result: "ok", alarms: [] })}\n`
            : `Node ${node} reported no ${name === "check_alarms" ? "alarms, local or clusterwide" : "local alarms"}\n`,
        );
        return EXIT.ok;
      }
      const list = (body.alarms ?? []).map((a) => `${a.resource}: ${a.reason}`);
      throw new CtlError(
        EXIT.unavailable,
        `Error:\nNode ${node} reported alarms:\n${list.join("\n")}`,
      );
    },
  };
}

function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.once("timeout", () => done(false));
  });
}

export const checkPortConnectivity: Verb = {
  name: "check_port_connectivity",
  usage: "check_port_connectivity",
  description: "Opens a TCP connection to every listener of the node (exit 69 if one fails)",
  async run(ctx) {
    const node = await nodeName(ctx);
    info(ctx.out, ctx.args, `Testing TCP connections to all active listeners on node ${node} ...`);
    const status = await ctx.api.get<{ listeners: Listener[] }>("/api/warren/status");
    const host = new URL(ctx.api.target.baseUrl).hostname.replace(/^\[|\]$/g, "");
    const ports = [...new Set(status.listeners.map((l) => l.port))].sort((a, b) => a - b);
    const failed: number[] = [];
    for (const port of ports) if (!(await canConnect(host, port, 5000))) failed.push(port);
    if (failed.length > 0) {
      throw new CtlError(
        EXIT.unavailable,
        `Error: connection to ports ${failed.join(", ")} on node ${node} failed`,
      );
    }
    ctx.out.stdout(
      json(ctx)
        ? `${JSON.stringify({ result: "ok", node, listeners: status.listeners })}\n`
        : `Successfully connected to ports ${ports.join(", ")} on node ${node}.\n`,
    );
    return EXIT.ok;
  },
};

export const checkPortListener: Verb = {
  name: "check_port_listener",
  usage: "check_port_listener <port>",
  description: "Health check that fails (exit 69) if the node has no listener on the port",
  async run(ctx) {
    const [port] = expectParams(ctx, this, 1);
    if (!/^\d+$/.test(port!)) throw usageError("the port must be a number");
    const node = await nodeName(ctx);
    info(
      ctx.out,
      ctx.args,
      `Asking node ${node} if there's an active listener on port ${port} ...`,
    );
    const r = await ctx.api.request("GET", `/api/health/checks/port-listener/${port}`);
    if (r.status !== 200) {
      const ports = (r.body as { ports?: number[] }).ports ?? [];
      throw new CtlError(
        EXIT.unavailable,
        `No listener for port ${port} is active on node ${node}. Found listeners that use the following ports: ${ports.join(", ")}`,
      );
    }
    ctx.out.stdout(`A listener for port ${port} is running on node ${node}.\n`);
    return EXIT.ok;
  },
};

/**
 * doctor: the seeds' failure signatures checked over live state and recent
 * history. Exit 0 when healthy, 1 with warnings, 2 with a critical finding.
 */
export const doctor: Verb = {
  name: "doctor",
  usage: "doctor [--json] [--window-minutes <n>] [--abandoned-minutes <n>]",
  description:
    "Diagnoses heartbeats, churn, descriptors, alarms, stuck consumers, RPC replies, poison loops, unroutable drops",
  async run(ctx) {
    const query = new URLSearchParams();
    const window = flagString(ctx.args, "window-minutes");
    if (window !== undefined) query.set("window_minutes", window);
    // Reply and fanout queues unused this long count as abandoned (default 60).
    const abandoned = flagString(ctx.args, "abandoned-minutes");
    if (abandoned !== undefined) query.set("abandoned_minutes", abandoned);
    const q = query.toString();
    const report = await ctx.api.get<DoctorReport>(`/api/warren/doctor${q ? `?${q}` : ""}`);
    if (flagSet(ctx.args, "json") || flagString(ctx.args, "formatter") === "json") {
      ctx.out.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else ctx.out.stdout(reportText(report));
    return report.status === "ok" ? EXIT.ok : report.status === "warning" ? 1 : 2;
  },
};

export const DIAGNOSTIC_VERBS: Verb[] = [
  ping,
  checkRunning,
  alarmCheck("check_local_alarms", "/api/health/checks/local-alarms", "on the node"),
  alarmCheck("check_alarms", "/api/health/checks/alarms", "in the cluster"),
  checkPortConnectivity,
  checkPortListener,
  checkIfNodeIsQuorumCritical,
  doctor,
];
