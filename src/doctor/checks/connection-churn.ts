import { type Check, type Finding, plural } from "../finding.js";
import { countBy } from "./missed-heartbeats.js";

/**
 * Connections both opened and closed per minute above which connections are churning
 * (seed 001: "spike and collapse").
 */
export const CHURN_WARNING_PER_MIN = 30;
export const CHURN_CRITICAL_PER_MIN = 300;
/** Share of closes from one host that makes it "one host". */
const ONE_HOST_SHARE = 0.8;
const MINUTE_MS = 60_000;

/**
 * Seed 001, "Inspect the connection churn": connections opened and closed per
 * minute over the last minute, who they come from, and why they ended. Churn is
 * connections that come and go, so it is the smaller of opens and closes: a node
 * filling up with new long-lived connections (831 opens, 1 close) is not churning,
 * and neither is one whose clients all left at once.
 */
export const connectionChurn: Check = {
  id: "connection-churn",
  description: "connections opened and closed per minute, and where they come from",
  run(input): Finding[] {
    const events = input.history.connectionEventsSince(input.nowMs - MINUTE_MS);
    // Less than a minute of history (a fresh node) is still a minute's worth of events.
    const opened = events.filter((e) => e.kind === "opened");
    const closed = events.filter((e) => e.kind === "closed");
    const perMin = Math.min(opened.length, closed.length);
    if (perMin < CHURN_WARNING_PER_MIN) return [];
    const byHost = countBy(closed, (e) => e.peerHost);
    const total = closed.length;
    const [topHost, topCount] = byHost[0]!;
    const oneHost = topCount / total >= ONE_HOST_SHARE;
    const reasons = countBy(closed, (e) =>
      e.missedHeartbeats ? "missed heartbeats" : e.reason.replace(/\d+/g, "N"),
    ).slice(0, 3);
    const neverOpened = closed.filter((e) => e.user === undefined).length;
    const evidence = [
      `in the last minute: ${plural(opened.length, "connection")} opened, ${closed.length} closed; ` +
        `${input.connections.length} open now`,
      `closes by host: ${byHost
        .slice(0, 5)
        .map(([h, n]) => `${h} (${n})`)
        .join(", ")}${byHost.length > 5 ? `, and ${byHost.length - 5} more hosts` : ""}`,
      `close reasons: ${reasons.map(([r, n]) => `${r} (${n})`).join("; ") || "none yet"}`,
    ];
    if (neverOpened > 0) {
      evidence.push(`${plural(neverOpened, "connection")} closed before logging in`);
    }
    const remedy = oneHost
      ? `Most of it comes from ${topHost}: find the process there that connects and disconnects (or reconnects ` +
        "after errors) and make it keep one long-lived connection; its own log says why it reconnects."
      : "Many hosts reconnect at once: that points at something shared, such as missed heartbeats (see that " +
        "check), a load balancer or firewall dropping idle connections, or the broker running out of file " +
        "descriptors. Clients should keep long-lived connections and back off between reconnects.";
    return [
      {
        check: this.id,
        severity: perMin >= CHURN_CRITICAL_PER_MIN ? "critical" : "warning",
        title: `connection churn: ${perMin} connections opened and closed per minute${oneHost ? ` (mostly from ${topHost})` : ""}`,
        evidence,
        remedy,
        seed: "001 (connection churn)",
      },
    ];
  },
};
