import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AmqpClient } from "../../src/perf/amqp-client.js";
import type { BrokerStartOptions, RunningBroker } from "./broker.js";
import { freePort } from "./free-port.js";
import { commandName, processTree, treeCpuSeconds, treeRssBytes } from "./process-stats.js";
import { signalGroup, spawnTracked, stopProcess } from "./tracked-processes.js";

/** Debian's rabbitmq-server package puts its scripts here. */
const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const EPMD = "/usr/bin/epmd";

export function rabbitmqInstalled(): boolean {
  return existsSync(RABBITMQ_SERVER);
}

/** "3.10.8" from the installed package's folder name, or undefined. */
export function rabbitmqVersion(): string | undefined {
  try {
    const dir = readdirSync("/usr/lib/rabbitmq/lib").find((d) => d.startsWith("rabbitmq_server-"));
    return dir?.slice("rabbitmq_server-".length);
  } catch {
    return undefined;
  }
}

/** The Erlang/OTP release RabbitMQ runs on ("25.2.3"), or undefined. */
export function erlangVersion(): string | undefined {
  try {
    for (const release of readdirSync("/usr/lib/erlang/releases")) {
      const file = join("/usr/lib/erlang/releases", release, "OTP_VERSION");
      if (existsSync(file)) return readFileSync(file, "utf8").trim();
    }
  } catch {
    // not installed
  }
  return undefined;
}

/**
 * A private epmd on a port of our own, so the bench's RabbitMQ never registers with
 * (or starts) the machine's shared epmd on 4369. Started in the foreground (no -daemon)
 * so the bench can stop it.
 */
export class PrivateEpmd {
  private constructor(
    readonly port: number,
    private readonly child: ReturnType<typeof spawnTracked>,
  ) {}

  static async start(): Promise<PrivateEpmd> {
    const port = await freePort();
    const epmd = existsSync(EPMD) ? EPMD : "epmd";
    const child = spawnTracked(epmd, ["-port", String(port)], { stdio: "ignore" });
    await waitForPort(port, 10_000);
    return new PrivateEpmd(port, child);
  }

  stop(): Promise<void> {
    return stopProcess(this.child, "SIGTERM", 5000);
  }
}

export interface RabbitStart {
  readonly broker: RunningBroker;
  /** Milliseconds from spawn until an AMQP handshake succeeds. */
  readonly startMs: number;
}

/**
 * Starts Debian's RabbitMQ with its own node name, ports, config, data and log folders
 * (the environment variables of rabbitmq-env), and waits until an AMQP client can open
 * a connection. Plugins are off (an empty enabled_plugins file): the comparison is the
 * AMQP core.
 */
export async function startRabbitMq(
  workDir: string,
  epmd: PrivateEpmd,
  options: BrokerStartOptions = {},
): Promise<RabbitStart> {
  const port = options.port ?? (await freePort());
  const distPort = await freePort();
  const base = options.dataDir ?? join(workDir, `rabbitmq-${port}`);
  mkdirSync(join(base, "mnesia"), { recursive: true });
  mkdirSync(join(base, "log"), { recursive: true });
  writeFileSync(
    join(base, "rabbitmq.conf"),
    [
      `listeners.tcp.default = ${port}`,
      "loopback_users.guest = false",
      "log.file.level = info",
      "log.console = false",
      "",
    ].join("\n"),
  );
  writeFileSync(join(base, "enabled_plugins"), "[].\n");
  const nodeName = `bench-${process.pid}@localhost`;
  const spawnedAt = performance.now();
  const child = spawnTracked(RABBITMQ_SERVER, [], {
    cwd: base,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      HOME: base,
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      ERL_EPMD_PORT: String(epmd.port),
      RABBITMQ_MNESIA_BASE: join(base, "mnesia"),
      RABBITMQ_LOG_BASE: join(base, "log"),
      RABBITMQ_CONFIG_FILE: join(base, "rabbitmq"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(base, "enabled_plugins"),
      RABBITMQ_PID_FILE: join(base, "rabbitmq.pid"),
    },
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    stderr = (stderr + t).slice(-4000);
  });
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  try {
    await waitForAmqp(
      url,
      timeoutMs,
      () => child.exitCode !== null,
      () => stderr,
    );
  } catch (e) {
    signalGroup(child, "SIGKILL");
    throw e;
  }
  const startMs = performance.now() - spawnedAt;
  const beam = processTree(child.pid!).find((pid) => commandName(pid) === "beam.smp");
  if (beam === undefined) throw new Error("RabbitMQ is up but no beam.smp process was found");
  const broker: RunningBroker = {
    kind: "rabbitmq",
    url,
    port,
    dataDir: base,
    pid: beam,
    // The shell wrapper and erl_child_setup are a few MiB; count the whole tree anyway.
    rssBytes: () => treeRssBytes(child.pid!),
    cpuSeconds: () => treeCpuSeconds(child.pid!),
    // SIGTERM to beam.smp is RabbitMQ's graceful shutdown.
    stop: () => stopProcess(child, "SIGTERM", 60_000, beam),
    kill: () => stopProcess(child, "SIGKILL", 10_000),
  };
  return { broker, startMs };
}

/** Retries an AMQP handshake until it works, the process dies, or time runs out. */
export async function waitForAmqp(
  url: string,
  timeoutMs: number,
  died: () => boolean,
  diagnostics: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (died()) throw new Error(`the broker exited during start: ${diagnostics()}`);
    try {
      const client = await AmqpClient.connect(url, { connectTimeoutMs: 5000 });
      await client.close();
      return;
    } catch {
      if (performance.now() > deadline) {
        throw new Error(`no AMQP handshake on ${url} within ${timeoutMs} ms: ${diagnostics()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const net = await import("node:net");
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
