import { randomBytes } from "node:crypto";
import type { BrokerSources } from "../vhost/broker-sources.js";

/** The real clock and the operating system's random bytes, for a running node. */
export const systemSources: BrokerSources = {
  clock: Date.now,
  randomBytes: (size) => randomBytes(size),
};
