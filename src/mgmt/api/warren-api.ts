import { type DoctorReport, runDoctor } from "../../doctor/doctor.js";
import type { Check, DoctorInput } from "../../doctor/finding.js";
import { badRequest, json } from "../http/http-types.js";
import type { Router } from "../http/router.js";
import type { NodeContext } from "../node-context.js";
import { socketsLimitFor } from "../process-facts.js";
import { statusView } from "../views/status-view.js";

/** How far back the doctor looks by default. */
export const DOCTOR_WINDOW_MS = 10 * 60_000;

/** The doctor's view of the node now. */
export function doctorInput(ctx: NodeContext, windowMs = DOCTOR_WINDOW_MS): DoctorInput {
  const f = ctx.processFacts();
  const connections = ctx.connections();
  return {
    nowMs: ctx.broker.clock(),
    broker: ctx.broker,
    connections,
    history: ctx.history,
    fds: {
      used: f.fdUsed,
      limit: f.fdLimit,
      socketsUsed: connections.length,
      socketsLimit: socketsLimitFor(f.fdLimit),
    },
    alarms: ctx.alarms(),
    eventLoopDelay: f.eventLoopDelay,
    windowMs,
  };
}

/**
 * Warren's own endpoints, for what RabbitMQ's API lacks: the status that
 * `warrenctl status` prints, the doctor, stopping the node, and recent connection events.
 */
export function warrenRoutes(router: Router, ctx: NodeContext, checks: () => Check[]): void {
  router.get("/api/warren/status", "monitoring", () => json(statusView(ctx)));
  router.get("/api/warren/doctor", "monitoring", (req) => {
    const minutes = req.query.get("window_minutes");
    const windowMs = minutes === null ? DOCTOR_WINDOW_MS : Number(minutes) * 60_000;
    if (!Number.isFinite(windowMs) || windowMs <= 0)
      throw badRequest("window_minutes must be a positive number");
    const report: DoctorReport = runDoctor(doctorInput(ctx, windowMs), checks());
    return json(report);
  });
  router.get("/api/warren/connection-events", "monitoring", (req) => {
    const since = Number(req.query.get("since_ms") ?? ctx.broker.clock() - DOCTOR_WINDOW_MS);
    return json(ctx.history.connectionEventsSince(since));
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
