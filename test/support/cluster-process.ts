/**
 * A cluster of real Warren processes on 127.0.0.1 for the multi-node tests: each node on
 * free AMQP, management, Prometheus and cluster ports with its own data dir, one shared
 * secret. With `proxied`, every node reaches every other node through its own TcpProxy
 * (node X's list names node Y at the X->Y proxy's port), so a test can cut one node off the
 * others and heal it. Every start is bounded; `stopAll` kills what is left, even after a
 * failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrokerUnderTest, startBroker } from "./broker-process.js";
import { freePort } from "./mgmt-broker.js";
import { TcpProxy } from "./tcp-proxy.js";

export const CLUSTER_SECRET = "test-cluster-secret-0123456789";

export interface ClusterNodeSpec {
  readonly name: string;
  readonly clusterPort: number;
  readonly mgmtPort: number;
  readonly dataDir: string;
  /** The AMQP port the node keeps across restarts (chosen by freePort with the others). */
  readonly amqpPort?: number;
}

export interface RunningNode {
  readonly spec: ClusterNodeSpec;
  broker: BrokerUnderTest | undefined;
  readonly mgmtUrl: string;
}

export class TestCluster {
  readonly nodes: RunningNode[];
  /** proxies.get(`${from}>${to}`): what `from` dials to reach `to` (with `proxied`). */
  readonly proxies = new Map<string, TcpProxy>();
  private readonly root: string;

  private constructor(
    specs: ClusterNodeSpec[],
    root: string,
    private readonly extraArgs: readonly string[],
  ) {
    this.root = root;
    this.nodes = specs.map((spec) => ({
      spec,
      broker: undefined,
      mgmtUrl: `http://127.0.0.1:${spec.mgmtPort}`,
    }));
  }

  /**
   * Picks ports and data dirs for `count` nodes (and their proxies); starts nothing. Each
   * node keeps one AMQP port across restarts, so clients given every node's address (oslo's
   * transport_url) find a restarted node where it was (`fixedAmqpPorts`, now always so, is
   * kept for the callers that say they rely on it).
   */
  static async create(
    count: number,
    options: { proxied?: boolean; args?: readonly string[]; fixedAmqpPorts?: boolean } = {},
  ): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), "warren-cluster-test-"));
    const specs: ClusterNodeSpec[] = [];
    for (let i = 1; i <= count; i++) {
      specs.push({
        name: `node${i}@127.0.0.1`,
        clusterPort: await freePort(),
        mgmtPort: await freePort(),
        dataDir: join(root, `node${i}`),
        // Always chosen here, never by the node's kernel (--port 0): a port the kernel gives
        // a node that starts first may be one freePort handed to a node not started yet.
        amqpPort: await freePort(),
      });
    }
    const cluster = new TestCluster(specs, root, options.args ?? []);
    if (options.proxied) {
      for (const from of specs) {
        for (const to of specs) {
          if (from === to) continue;
          const proxy = new TcpProxy("127.0.0.1", to.clusterPort);
          await proxy.start();
          cluster.proxies.set(`${from.name}>${to.name}`, proxy);
        }
      }
    }
    return cluster;
  }

  /** The --cluster-nodes list node `self` is given. */
  private clusterNodesFor(self: ClusterNodeSpec): string {
    return this.nodes
      .map(({ spec }) => {
        const proxy = this.proxies.get(`${self.name}>${spec.name}`);
        return `${spec.name}:${proxy ? proxy.port : spec.clusterPort}`;
      })
      .join(",");
  }

  /** Starts node i (0-based) and waits for its "started" line (not for it to serve). */
  async start(i: number): Promise<BrokerUnderTest> {
    const node = this.nodes[i]!;
    const { spec } = node;
    node.broker = await startBroker({
      dataDir: spec.dataDir,
      args: [
        "--node-name",
        spec.name,
        "--cluster-port",
        String(spec.clusterPort),
        "--cluster-nodes",
        this.clusterNodesFor(spec),
        "--cluster-secret",
        CLUSTER_SECRET,
        "--mgmt-port",
        String(spec.mgmtPort),
        // After startBroker's own `--port 0`: the last one counts.
        ...(spec.amqpPort === undefined ? [] : ["--port", String(spec.amqpPort)]),
        ...this.extraArgs,
      ],
    });
    return node.broker;
  }

  /** Starts every node at once (a cluster forms only once a majority runs). */
  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.start(i)));
  }

  /** Waits until node i logs that it caught up with the cluster's metadata (it serves clients). */
  async serving(i: number, timeoutMs = 30_000, after = 0): Promise<void> {
    const broker = this.broker(i);
    await broker.waitForLog(
      (l) =>
        broker.logs.indexOf(l) >= after &&
        typeof l.msg === "string" &&
        l.msg.includes("has caught up with the cluster's metadata"),
      timeoutMs,
    );
  }

  async allServing(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.serving(i, timeoutMs)));
  }

  broker(i: number): BrokerUnderTest {
    const b = this.nodes[i]!.broker;
    if (b === undefined) throw new Error(`node ${i} is not running`);
    return b;
  }

  url(i: number): string {
    return this.broker(i).url;
  }

  /** Cuts node i off from every other node: its links are reset and new ones refused. */
  isolate(i: number): void {
    const name = this.nodes[i]!.spec.name;
    for (const [key, proxy] of this.proxies) {
      const [from, to] = key.split(">");
      if (from !== name && to !== name) continue;
      proxy.blocked = true;
      proxy.cut();
    }
  }

  heal(): void {
    for (const proxy of this.proxies.values()) proxy.blocked = false;
  }

  async stop(i: number): Promise<void> {
    const node = this.nodes[i]!;
    await node.broker?.stop();
    node.broker = undefined;
  }

  async kill(i: number): Promise<void> {
    const node = this.nodes[i]!;
    await node.broker?.kill();
    node.broker = undefined;
  }

  /** Kills every node still running, stops the proxies, removes the data dirs. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.broker?.kill()));
    for (const n of this.nodes) n.broker = undefined;
    await Promise.all([...this.proxies.values()].map((p) => p.stop()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
