import type { Scenario } from "../lib/scenario.js";
import { RESTART_1M, RSS_5M } from "./durable-storage.js";
import { FANOUT_CLIENTS_SCENARIOS } from "./fanout-clients.js";
import { IDLE_CONNECTIONS } from "./idle-connections.js";
import { LOAD_SCENARIOS } from "./load-scenarios.js";

/** Every scenario, in the order docs/benchmarks.md shows them. */
export const SCENARIOS: readonly Scenario[] = [
  ...LOAD_SCENARIOS,
  ...FANOUT_CLIENTS_SCENARIOS,
  IDLE_CONNECTIONS,
  RESTART_1M,
  RSS_5M,
];

/** The figure each scenario's line in the summary table shows. */
export const HEADLINE: Readonly<Record<string, string>> = {
  "transient-16b": "received",
  "persistent-1k": "confirmed",
  "fanout-16b-10q": "received",
  "fanout-clients-10q": "received",
  "store-16b": "sent",
  "latency-2000": "p99",
  "queues-1000": "received",
  "idle-10k": "perConn",
  "restart-1m": "readyMs",
  "rss-5m": "rssQueued",
};
