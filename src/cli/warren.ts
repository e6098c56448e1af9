#!/usr/bin/env node
import { formatHost } from "../runtime/amqp-listener.js";
import { createLogger } from "../runtime/logger.js";
import { enableRegexpBacktrackFallback } from "../runtime/regexp-backtracking.js";
import { WarrenNode } from "../runtime/warren-node.js";
import { PRODUCT, VERSION } from "../version.js";
import { loadConfig, USAGE } from "./config.js";

async function main(): Promise<void> {
  enableRegexpBacktrackFallback();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`warren: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
  if (config === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const log = createLogger(config.logLevel);
  const { nodeName, clusterPort } = config.settings;
  const node = new WarrenNode({
    settings: config.settings,
    listen: config.listen,
    dataDir: config.dataDir,
    log,
    segmentBytes: config.segmentBytes,
    tls: config.tls,
    resourceLimits: config.resourceLimits,
    mgmtPort: config.mgmtPort,
    prometheusPort: config.prometheusPort,
    discardUnclaimedMessages: config.discardUnclaimedMessages,
    clusterSecret: config.clusterSecret,
  });
  try {
    await node.start();
  } catch (e) {
    const message = (e as Error).message;
    log.error({ err: String(e), dataDir: config.dataDir }, `could not start: ${message}`);
    // The log is JSON on stdout; an operator at a terminal (npm start) reads stderr too.
    process.stderr.write(`warren: could not start: ${message}\n`);
    process.exit(1);
  }
  const tlsBound = node.tlsListener?.bound ?? [];
  const where = [
    ...node.listener.bound.map((b) => `${formatHost(b.host)}:${b.port}`),
    ...tlsBound.map((b) => `amqps ${formatHost(b.host)}:${b.port}`),
  ].join(", ");
  log.info(
    {
      version: VERSION,
      node: nodeName,
      clusterPort,
      configFile: config.configFile,
      listeners: node.listener.bound,
      tlsListeners: tlsBound,
      dataDir: config.dataDir,
    },
    `${PRODUCT} ${VERSION} node ${nodeName} started on ${where} (data in ${config.dataDir})`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `stopping ${PRODUCT} (${signal})`);
    await node.stop();
    log.info({}, `${PRODUCT} stopped`);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

void main();
