import { EXIT } from "./args.js";
import { atom, fromJson, kv, pretty, str, type Term, tuple } from "./erlang-term.js";
import { formatterOf, info } from "./output.js";
import type { Verb } from "./verb.js";

type Status = Record<string, unknown> & {
  node: string;
  pid: number;
  file_descriptors: {
    total_limit: number;
    total_used: number;
    sockets_limit: number;
    sockets_used: number;
    /** Warren's: the descriptors kept back from sockets, by part. */
    reserved_for_files?: Record<string, number>;
  };
  memory: Record<string, unknown> & { total: { rss: number } };
  alarms: { resource: string; node: string; reason: string }[];
  listeners: { interface: string; node: string; port: number; protocol: string; purpose: string }[];
  totals: Record<string, number>;
  limits: Record<string, unknown>;
  event_loop_delay_ms: Record<string, number>;
};

/** The classic `rabbitmqctl status` term, with the same keys where RabbitMQ has them. */
export function statusTerm(s: Status): Term {
  const fd = s.file_descriptors;
  return [
    kv("pid", s.pid),
    kv("running_applications", [
      tuple(atom("warren"), str(String(s.product_name)), str(String(s.product_version))),
    ]),
    kv("os", tuple(atom("unix"), atom(String(s.os).toLowerCase()))),
    kv("rabbitmq_version", str(String(s.rabbitmq_version))),
    kv("product_name", str(String(s.product_name))),
    kv("product_version", str(String(s.product_version))),
    kv("erlang_version", str(String(s.erlang_version))),
    kv("memory", fromJson(s.memory)),
    kv(
      "alarms",
      s.alarms.map((a) => tuple(atom(a.resource), atom(a.node), str(a.reason))),
    ),
    kv(
      "listeners",
      s.listeners.map((l) =>
        tuple(atom("listener"), atom(l.node), atom(l.protocol), str(l.interface), l.port),
      ),
    ),
    kv("vm_memory_calculation_strategy", atom("rss")),
    ...watermarkTerm(s.vm_memory_high_watermark_setting),
    kv("vm_memory_limit", Number(s.vm_memory_high_watermark_limit)),
    kv("disk_free_limit", Number(s.disk_free_limit)),
    kv("disk_free", Number(s.disk_free)),
    kv("file_descriptors", [
      kv("total_limit", fd.total_limit!),
      kv("total_used", fd.total_used!),
      kv("sockets_limit", fd.sockets_limit!),
      kv("sockets_used", fd.sockets_used!),
    ]),
    // Warren's: what the limit keeps back from sockets, by part (runtime/descriptor-budget.ts).
    ...(fd.reserved_for_files
      ? [kv("file_descriptors_reserved", fromJson(fd.reserved_for_files))]
      : []),
    kv("event_loop_delay_ms", fromJson(s.event_loop_delay_ms)),
    kv("uptime", Number(s.uptime)),
    kv("data_directory", str(String(s.data_directory))),
    kv("totals", fromJson(s.totals)),
    kv("limits", fromJson(s.limits)),
  ];
}

/** RabbitMQ 3.x: {vm_memory_high_watermark,0.4}, or {vm_memory_high_watermark,{absolute,N}}. */
function watermarkTerm(setting: unknown): Term[] {
  const w = setting as { relative?: number; absolute?: number } | undefined;
  if (w?.relative !== undefined) return [kv("vm_memory_high_watermark", w.relative)];
  if (w?.absolute !== undefined)
    return [kv("vm_memory_high_watermark", tuple(atom("absolute"), w.absolute))];
  return [];
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(4)} gb`;
}

/** The sectioned layout of modern rabbitmqctl (--formatter pretty). */
export function statusPretty(s: Status): string {
  const fd = s.file_descriptors;
  const m = s.memory;
  const lines = [
    "Runtime",
    "",
    `OS PID: ${s.pid}`,
    `OS: ${s.os}`,
    `Uptime (seconds): ${s.uptime}`,
    `Warren version: ${s.product_version} (RabbitMQ ${s.rabbitmq_version} compatible)`,
    `Node name: ${s.node}`,
    `Runtime: ${s.erlang_version}`,
    `Event loop delay (ms): mean ${s.event_loop_delay_ms.mean}, p99 ${s.event_loop_delay_ms.p99}, max ${s.event_loop_delay_ms.max}`,
    "",
    "Data directory",
    "",
    `Node data directory: ${s.data_directory}`,
    "",
    "Alarms",
    "",
    ...(s.alarms.length === 0 ? ["(none)"] : s.alarms.map((a) => `${a.resource}: ${a.reason}`)),
    "",
    "Memory",
    "",
    `Total memory used: ${gb(m.total.rss)}`,
    "Calculation strategy: rss",
    ...Object.entries(m)
      .filter(([, v]) => typeof v === "number")
      .map(([k, v]) => `${k}: ${gb(v as number)}`),
    "",
    "File Descriptors",
    "",
    `Total: ${fd.total_used}, limit: ${fd.total_limit}`,
    `Sockets: ${fd.sockets_used}, limit: ${fd.sockets_limit}`,
    ...(fd.reserved_for_files
      ? [
          `Reserved for files, listeners and HTTP: ${Object.entries(fd.reserved_for_files)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}`,
        ]
      : []),
    "",
    "Free Disk Space",
    "",
    `Free disk space: ${gb(Number(s.disk_free))}`,
    "",
    "Totals",
    "",
    `Connection count: ${s.totals.connection_count}`,
    `Queue count: ${s.totals.queue_count}`,
    `Virtual host count: ${s.totals.virtual_host_count}`,
    "",
    "Listeners",
    "",
    ...s.listeners.map(
      (l) =>
        `Interface: ${l.interface}, port: ${l.port}, protocol: ${l.protocol}, purpose: ${l.purpose}`,
    ),
    "",
    "Limits",
    "",
    ...Object.entries(s.limits).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * status: the classic Erlang-term layout by default, so the seed runbooks'
 * `warrenctl status | grep -A3 file_descriptors` works; --formatter json gives
 * rabbitmqctl's JSON keys; --formatter pretty the sectioned layout.
 */
export const status: Verb = {
  name: "status",
  usage: "status [--formatter erlang|json|pretty]",
  description: "Displays status of a node",
  async run(ctx) {
    const formatter = formatterOf(ctx.args, ["erlang", "json", "pretty", "table"], "erlang");
    const s = await ctx.api.get<Status>("/api/warren/status");
    if (formatter === "json") {
      ctx.out.stdout(`${JSON.stringify(s)}\n`);
      return EXIT.ok;
    }
    info(ctx.out, ctx.args, `Status of node ${s.node} ...`);
    if (s.app_running === false)
      ctx.out.stdout(
        `The app is stopped on node ${s.node} (warrenctl stop_app); run warrenctl start_app to start it\n`,
      );
    ctx.out.stdout(formatter === "pretty" ? statusPretty(s) : `${pretty(statusTerm(s))}\n`);
    return EXIT.ok;
  },
};
