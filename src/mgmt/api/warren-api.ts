import { totalmem } from "node:os";
import { type DoctorReport, runDoctor } from "../../doctor/doctor.js";
import type { Check, DoctorInput } from "../../doctor/finding.js";
import { type MemoryWatermark, parseBytes } from "../../runtime/resource-monitor.js";
import { type ApiRequest, badRequest, HttpError, json, jsonBody } from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext, ResourceControl } from "../node-context.js";
import { socketsLimitFor } from "../process-facts.js";
import { clusterJson } from "../views/cluster-view-json.js";
import { statusView } from "../views/status-view.js";

/** How far back the doctor looks by default. */
export const DOCTOR_WINDOW_MS = 10 * 60_000;

/** The doctor's view of the node now. */
export function doctorInput(ctx: NodeContext, windowMs = DOCTOR_WINDOW_MS): DoctorInput {
  const f = ctx.processFacts();
  const connections = ctx.connections();
  const cluster = ctx.cluster?.view();
  return {
    nowMs: ctx.broker.clock(),
    broker: ctx.broker,
    connections,
    history: ctx.history,
    fds: {
      used: f.fdUsed,
      limit: f.fdLimit,
      socketsUsed: connections.length,
      socketsLimit: ctx.broker.resources?.socketsLimit ?? socketsLimitFor(f.fdLimit),
    },
    alarms: ctx.alarms(),
    eventLoopDelay: f.eventLoopDelay,
    stalls: ctx.stalls?.since(ctx.broker.clock() - windowMs) ?? [],
    windowMs,
    ...(cluster ? { cluster } : {}),
    ...(ctx.quorum ? { quorum: ctx.quorum.list() } : {}),
  };
}

/**
 * Warren's own endpoints, for what RabbitMQ's API lacks: the status that
 * `warrenctl status` prints, the doctor, stopping the node, and recent connection events.
 */
export function warrenRoutes(router: Router, ctx: NodeContext, checks: () => Check[]): void {
  router.get("/api/warren/status", "monitoring", () => json(statusView(ctx)));
  router.get("/api/warren/cluster", "monitoring", () => json(clusterJson(ctx)));
  router.get("/api/warren/doctor", "monitoring", (req) => {
    const windowMs = minutesQuery(req, "window_minutes") ?? DOCTOR_WINDOW_MS;
    const input = {
      ...doctorInput(ctx, windowMs),
      abandonedAfterMs: minutesQuery(req, "abandoned_minutes"),
    };
    const report: DoctorReport = runDoctor(input, checks());
    return json(report);
  });
  router.get("/api/warren/connection-events", "monitoring", (req) => {
    const param = req.query.get("since_ms");
    const since = param === null ? ctx.broker.clock() - DOCTOR_WINDOW_MS : Number(param);
    if (param?.trim() === "" || !Number.isFinite(since))
      throw badRequest("since_ms must be a time in milliseconds since 1970");
    return json(ctx.history.connectionEventsSince(since));
  });
  router.put("/api/warren/vm-memory-high-watermark", "administrator", (req) => {
    const resources = resourceControl(ctx);
    resources.setMemoryHighWatermark(watermarkFromBody(req));
    return json(thresholds(ctx, resources));
  });
  router.put("/api/warren/disk-free-limit", "administrator", (req) => {
    const resources = resourceControl(ctx);
    resources.setDiskFreeLimit(diskFreeLimitFromBody(req));
    return json(thresholds(ctx, resources));
  });
  router.post("/api/warren/stop", "administrator", (req) => {
    ctx.log.info(
      { by: req.user!.name },
      `stop requested by user '${req.user!.name}' (warrenctl stop)`,
    );
    // Answer first, then stop: the stop closes this listener too.
    setImmediate(() => ctx.requestStop(`warrenctl stop by ${req.user!.name}`));
    return json({ status: "stopping", node: ctx.broker.settings.nodeName }, 202);
  });
}

/** A positive number of minutes from the query, in ms; undefined when absent. */
function minutesQuery(req: ApiRequest, name: string): number | undefined {
  const minutes = req.query.get(name);
  if (minutes === null) return undefined;
  const ms = Number(minutes) * 60_000;
  if (minutes.trim() === "" || !Number.isFinite(ms) || ms <= 0)
    throw badRequest(`${name} must be a positive number`);
  return ms;
}

function resourceControl(ctx: NodeContext): ResourceControl {
  if (!ctx.resources) throw new HttpError(503, "unavailable", "this node runs no resource monitor");
  return ctx.resources;
}

/** The thresholds now, as `rabbitmqctl status` names them. */
function thresholds(ctx: NodeContext, resources: ResourceControl) {
  const r = ctx.broker.resources;
  return {
    vm_memory_high_watermark_setting: resources.limits.memoryHighWatermark,
    vm_memory_high_watermark_limit: r?.memoryLimitBytes,
    disk_free_limit: resources.limits.diskFreeLimitBytes,
    alarms: ctx.alarms().map((a) => a.resource),
  };
}

function size(value: unknown): number {
  try {
    const bytes =
      typeof value === "number" ? value : typeof value === "string" ? parseBytes(value) : 0;
    if (Number.isInteger(bytes) && bytes > 0) return bytes;
  } catch {
    // fall through
  }
  throw badRequest(`${JSON.stringify(value)} is not a size (examples: 1073741824, 1GB, 512MiB)`);
}

/** A number sent as a number or a string; NaN for anything else (Number({}) may throw). */
function numberOrString(v: unknown): number {
  return typeof v === "number"
    ? v
    : typeof v === "string" && v.trim() !== ""
      ? Number(v)
      : Number.NaN;
}

/** {"relative": 0.4} (a fraction of RAM, as set_vm_memory_high_watermark 0.4) or {"absolute": "2GB"}. */
function watermarkFromBody(req: ApiRequest): MemoryWatermark {
  const body = jsonBody(req);
  if ("absolute" in body) return { absolute: size(body.absolute) };
  const relative = numberOrString(body.relative);
  if (!("relative" in body) || !Number.isFinite(relative) || relative < 0 || relative > 1) {
    throw badRequest("The threshold should be a fraction between 0.0 and 1.0");
  }
  return { relative };
}

/** {"absolute": "1GB"} or {"mem_relative": 1.5} (times the total RAM), as set_disk_free_limit. */
function diskFreeLimitFromBody(req: ApiRequest): number {
  const body = jsonBody(req);
  if ("mem_relative" in body) {
    const fraction = numberOrString(body.mem_relative);
    if (!Number.isFinite(fraction) || fraction <= 0)
      throw badRequest("mem_relative must be a positive number");
    return Math.floor(totalmem() * fraction);
  }
  if (!("absolute" in body))
    throw badRequest('expected {"absolute": <size>} or {"mem_relative": <fraction>}');
  return size(body.absolute);
}
