import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunningBroker } from "./broker.js";
import { freePort } from "./free-port.js";
import { commandName, processTree, treeCpuSeconds, treeRssBytes } from "./process-stats.js";
import { type PrivateEpmd, waitForAmqp } from "./rabbitmq-broker.js";
import { signalGroup, spawnTracked, stopProcess } from "./tracked-processes.js";

/** Debian's rabbitmq-server package puts its scripts here (the /usr/sbin ones switch user). */
const RABBITMQ_BIN = "/usr/lib/rabbitmq/bin";

export interface RabbitClusterNode {
  /** Erlang node name, e.g. bench2@localhost. */
  readonly name: string;
  readonly broker: RunningBroker;
}

/** A RabbitMQ cluster the bench started: every node on loopback, with its own ports and data. */
export interface RabbitCluster {
  readonly nodes: readonly RabbitClusterNode[];
  /** Milliseconds from the first spawn until every node runs in one cluster. */
  readonly startMs: number;
  /** Runs rabbitmqctl against node i (0-based) and returns its stdout. */
  ctl(i: number, ...args: string[]): Promise<string>;
  /** Stops every node (SIGTERM to each beam.smp, SIGKILL after a timeout). */
  stop(): Promise<void>;
}

interface NodePlan {
  readonly name: string;
  readonly port: number;
  readonly distPort: number;
  readonly base: string;
}

/**
 * The environment of rabbitmq-env for one node. HOME is the cluster's folder for every
 * node and for rabbitmqctl, so all of them read the same .erlang.cookie; epmd is the
 * bench's private one, so nothing registers with (or starts) the machine's epmd on 4369.
 */
function nodeEnv(root: string, epmd: PrivateEpmd, node: NodePlan): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: root,
    LC_ALL: "C.UTF-8",
    ERL_EPMD_PORT: String(epmd.port),
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_NODE_PORT: String(node.port),
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_MNESIA_BASE: join(node.base, "mnesia"),
    RABBITMQ_LOG_BASE: join(node.base, "log"),
    RABBITMQ_CONFIG_FILE: join(node.base, "rabbitmq"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(node.base, "enabled_plugins"),
    RABBITMQ_PID_FILE: join(node.base, "rabbitmq.pid"),
  };
}

/** What rabbitmqctl needs to reach a node: the shared cookie (HOME), our epmd, a UTF-8 locale. */
function ctlEnv(root: string, epmd: PrivateEpmd): NodeJS.ProcessEnv {
  return { ...process.env, HOME: root, LC_ALL: "C.UTF-8", ERL_EPMD_PORT: String(epmd.port) };
}

function runCtl(
  root: string,
  epmd: PrivateEpmd,
  node: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      join(RABBITMQ_BIN, "rabbitmqctl"),
      ["-n", node, ...args],
      { env: ctlEnv(root, epmd), timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `rabbitmqctl -n ${node} ${args.join(" ")} failed: ${stderr || error.message}`,
            ),
          );
        } else resolve(stdout);
      },
    );
  });
}

/** Starts one node of the cluster-to-be and waits for its AMQP handshake. */
async function startNode(
  root: string,
  epmd: PrivateEpmd,
  plan: NodePlan,
  timeoutMs: number,
): Promise<RunningBroker> {
  mkdirSync(join(plan.base, "mnesia"), { recursive: true });
  mkdirSync(join(plan.base, "log"), { recursive: true });
  writeFileSync(
    join(plan.base, "rabbitmq.conf"),
    [
      `listeners.tcp.default = ${plan.port}`,
      "loopback_users.guest = false",
      "log.file.level = info",
      "log.console = false",
      "",
    ].join("\n"),
  );
  // No plugins (management off): the comparison is the AMQP core.
  writeFileSync(join(plan.base, "enabled_plugins"), "[].\n");
  const child = spawnTracked(join(RABBITMQ_BIN, "rabbitmq-server"), [], {
    cwd: plan.base,
    stdio: ["ignore", "ignore", "pipe"],
    env: nodeEnv(root, epmd, plan),
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr = (stderr + t).slice(-4000);
  });
  const url = `amqp://guest:guest@127.0.0.1:${plan.port}`;
  try {
    await waitForAmqp(
      url,
      timeoutMs,
      () => child.exitCode !== null,
      () => `${plan.name}: ${stderr}`,
    );
  } catch (e) {
    signalGroup(child, "SIGKILL");
    throw e;
  }
  const beam = processTree(child.pid!).find((pid) => commandName(pid) === "beam.smp");
  if (beam === undefined) {
    signalGroup(child, "SIGKILL");
    throw new Error(`${plan.name} is up but no beam.smp process was found`);
  }
  return {
    kind: "rabbitmq",
    url,
    port: plan.port,
    dataDir: plan.base,
    pid: beam,
    rssBytes: () => treeRssBytes(child.pid!),
    cpuSeconds: () => treeCpuSeconds(child.pid!),
    // SIGTERM to beam.smp is RabbitMQ's graceful shutdown.
    stop: () => stopProcess(child, "SIGTERM", 60_000, beam),
    kill: () => stopProcess(child, "SIGKILL", 10_000),
  };
}

/**
 * Starts `size` RabbitMQ nodes of Debian's package on loopback (bench1@localhost,
 * bench2@localhost, ...), each with its own AMQP and distribution ports, config, data
 * and log folders under `workDir/rabbitmq-cluster-*`, and clusters them the way an
 * operator does: `rabbitmqctl stop_app`, `join_cluster bench1@localhost`, `start_app` on
 * every node after the first. With size 1 it is a single node. On any failure every node
 * started so far is killed before the error is thrown.
 */
export async function startRabbitCluster(
  workDir: string,
  epmd: PrivateEpmd,
  size: number,
  options: { startTimeoutMs?: number; log?: (line: string) => void } = {},
): Promise<RabbitCluster> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const root = join(workDir, `rabbitmq-cluster-${size}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  const cookie = join(root, ".erlang.cookie");
  writeFileSync(cookie, randomBytes(20).toString("hex").toUpperCase());
  chmodSync(cookie, 0o400);
  const plans: NodePlan[] = [];
  for (let i = 1; i <= size; i++) {
    plans.push({
      name: `bench${i}@localhost`,
      port: await freePort(),
      distPort: await freePort(),
      base: join(root, `node${i}`),
    });
  }
  const startedAt = performance.now();
  const started: RunningBroker[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((b) => b.stop()));
  };
  try {
    // Start them together (two cores: each takes ~10 s alone), then cluster them one by one.
    const results = await Promise.allSettled(
      plans.map(async (plan) => {
        const broker = await startNode(root, epmd, plan, timeoutMs);
        started.push(broker);
        return broker;
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const brokers = results.map((r) => (r as PromiseFulfilledResult<RunningBroker>).value);
    const first = plans[0]!.name;
    for (const plan of plans.slice(1)) {
      log(`rabbitmq: ${plan.name} joins ${first}`);
      await runCtl(root, epmd, plan.name, ["stop_app"]);
      await runCtl(root, epmd, plan.name, ["join_cluster", first]);
      await runCtl(root, epmd, plan.name, ["start_app"]);
    }
    if (size > 1) {
      await runCtl(root, epmd, first, ["await_online_nodes", String(size), "--timeout", "120"]);
      for (let i = 0; i < size; i++) {
        await waitForAmqp(
          brokers[i]!.url,
          timeoutMs,
          () => false,
          () => plans[i]!.name,
        );
      }
    }
    const startMs = performance.now() - startedAt;
    return {
      nodes: plans.map((plan, i) => ({ name: plan.name, broker: brokers[i]! })),
      startMs,
      ctl: (i, ...args) => runCtl(root, epmd, plans[i]!.name, args),
      stop: stopAll,
    };
  } catch (e) {
    await Promise.all(started.map((b) => b.kill()));
    throw e;
  }
}
