import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RunningBroker } from "./broker.js";
import { freePort } from "./free-port.js";
import { rssBytes, treeCpuSeconds } from "./process-stats.js";
import { signalGroup, spawnTracked, stopProcess } from "./tracked-processes.js";

export interface WarrenClusterNode {
  readonly name: string;
  readonly broker: RunningBroker;
  /** Everything the node printed (its JSON log lines and stderr). */
  readonly logPath: string;
  /** How the node ended, or undefined while it runs. */
  exit(): string | undefined;
}

export interface WarrenCluster {
  readonly nodes: readonly WarrenClusterNode[];
  /** Milliseconds from the first spawn until every node serves clients. */
  readonly startMs: number;
  stop(): Promise<void>;
}

interface NodePlan {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly dataDir: string;
}

/** The log line after which a node serves clients: its start, or its catching up with the cluster. */
function readyLine(size: number): string {
  return size > 1 ? "has caught up with the cluster's metadata" : " started on ";
}

async function startNode(
  repoRoot: string,
  plan: NodePlan,
  all: readonly NodePlan[],
  secret: string,
  timeoutMs: number,
): Promise<WarrenClusterNode> {
  mkdirSync(plan.dataDir, { recursive: true });
  const clusterArgs =
    all.length > 1
      ? [
          "--node-name",
          plan.name,
          "--cluster-port",
          String(plan.clusterPort),
          "--cluster-nodes",
          all.map((n) => `${n.name}:${n.clusterPort}`).join(","),
        ]
      : [];
  const child = spawnTracked(
    process.execPath,
    [
      join(repoRoot, "dist/src/cli/warren.js"),
      "--port",
      String(plan.port),
      "--host",
      "127.0.0.1",
      "--data-dir",
      plan.dataDir,
      "--log-level",
      "info",
      // Management and Prometheus off, as RabbitMQ's plugins are.
      "--mgmt-port",
      "0",
      "--prometheus-port",
      "0",
      ...clusterArgs,
    ],
    // The secret goes by environment, not argv.
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WARREN_CLUSTER_SECRET: secret } },
  );
  const logPath = `${plan.dataDir}.log`;
  const logFile = createWriteStream(logPath);
  let exit: string | undefined;
  child.once("exit", (code, signal) => {
    exit = `exited (${code ?? signal})`;
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr = (stderr + t).slice(-4000);
    logFile.write(t);
  });
  child.stdout!.setEncoding("utf8").on("data", (t: string) => logFile.write(t));
  child.once("close", () => logFile.end());
  const ready = readyLine(all.length);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      child.stdout!.setEncoding("utf8").on("data", (text: string) => {
        buffered += text;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.includes(ready)) resolve();
        }
        // Past the start the lines are not needed; keep the buffer from growing.
        if (buffered.length > 65536) buffered = "";
      });
      child.once("exit", (code, signal) =>
        reject(new Error(`${plan.name} exited during start (${code ?? signal}): ${stderr}`)),
      );
      timer = setTimeout(
        () => reject(new Error(`${plan.name} was not ready within ${timeoutMs} ms: ${stderr}`)),
        timeoutMs,
      );
    });
  } catch (e) {
    signalGroup(child, "SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const pid = child.pid!;
  const broker: RunningBroker = {
    kind: "warren",
    url: `amqp://guest:guest@127.0.0.1:${plan.port}`,
    port: plan.port,
    dataDir: plan.dataDir,
    pid,
    rssBytes: () => rssBytes(pid),
    cpuSeconds: () => treeCpuSeconds(pid),
    stop: () => stopProcess(child, "SIGTERM", 30_000),
    kill: () => stopProcess(child, "SIGKILL", 10_000),
  };
  return { name: plan.name, broker, logPath, exit: () => exit };
}

/**
 * Starts `size` Warren nodes (the build under test) on 127.0.0.1, each with its own AMQP
 * and cluster ports and data folder under `workDir`, sharing one fresh cluster secret, as
 * tools/cluster.mjs does; with size 1, a plain single node. Resolves once every node
 * serves clients; on failure kills what it started.
 */
export async function startWarrenCluster(
  repoRoot: string,
  workDir: string,
  size: number,
  options: { startTimeoutMs?: number } = {},
): Promise<WarrenCluster> {
  const root = join(workDir, `warren-cluster-${size}-${Date.now()}`);
  const plans: NodePlan[] = [];
  for (let i = 1; i <= size; i++) {
    plans.push({
      name: `bench${i}@127.0.0.1`,
      port: await freePort(),
      clusterPort: await freePort(),
      dataDir: join(root, `node${i}`),
    });
  }
  const secret = randomBytes(24).toString("hex");
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const startedAt = performance.now();
  const started: WarrenClusterNode[] = [];
  const results = await Promise.allSettled(
    plans.map(async (plan) => {
      const broker = await startNode(repoRoot, plan, plans, secret, timeoutMs);
      started.push(broker);
      return broker;
    }),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.all(started.map((n) => n.broker.kill()));
    throw (failed as PromiseRejectedResult).reason;
  }
  const startMs = performance.now() - startedAt;
  return {
    nodes: results.map((r) => (r as PromiseFulfilledResult<WarrenClusterNode>).value),
    startMs,
    stop: async () => {
      await Promise.all(started.map((n) => n.broker.stop()));
    },
  };
}
