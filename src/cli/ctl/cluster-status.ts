import { EXIT } from "./args.js";
import { formatterOf, info } from "./output.js";
import type { Verb } from "./verb.js";

interface NodeInfo {
  name: string;
  type: string;
  running: boolean;
  partitions: string[];
}

interface StatusInfo {
  node: string;
  product_version: string;
  rabbitmq_version: string;
  erlang_version: string;
  alarms: { resource: string; node: string; reason: string }[];
  listeners: { interface: string; node: string; port: number; protocol: string; purpose: string }[];
}

/**
 * cluster_status: RabbitMQ's sections (Basics, Disk Nodes, Running Nodes,
 * Versions, Alarms, Network Partitions, Listeners). One node until clustering
 * lands; an empty "Network Partitions" section is what the seed's step 2 looks for.
 */
export const clusterStatus: Verb = {
  name: "cluster_status",
  usage: "cluster_status [--formatter json|pretty]",
  description:
    "Displays all the nodes in the cluster grouped by node type, together with the currently running nodes",
  async run(ctx) {
    const formatter = formatterOf(ctx.args, ["pretty", "table", "json"], "pretty");
    const [overview, nodes, s] = await Promise.all([
      ctx.api.get<{ cluster_name: string }>("/api/overview"),
      ctx.api.get<NodeInfo[]>("/api/nodes"),
      ctx.api.get<StatusInfo>("/api/warren/status"),
    ]);
    const running = nodes.filter((n) => n.running).map((n) => n.name);
    const partitions = Object.fromEntries(
      nodes.filter((n) => n.partitions.length > 0).map((n) => [n.name, n.partitions]),
    );
    if (formatter === "json") {
      ctx.out.stdout(
        `${JSON.stringify({
          alarms: s.alarms,
          cluster_name: overview.cluster_name,
          disk_nodes: nodes.filter((n) => n.type === "disc").map((n) => n.name),
          listeners: { [s.node]: s.listeners },
          partitions,
          ram_nodes: [],
          running_nodes: running,
          versions: {
            [s.node]: {
              rabbitmq_name: "Warren",
              rabbitmq_version: s.rabbitmq_version,
              warren_version: s.product_version,
              erlang_version: s.erlang_version,
            },
          },
        })}\n`,
      );
      return EXIT.ok;
    }
    info(ctx.out, ctx.args, `Cluster status of node ${s.node} ...`);
    const partitionLines = Object.entries(partitions).flatMap(([node, peers]) =>
      peers.map((p) => `${node} cannot communicate with ${p}`),
    );
    const lines = [
      "Basics",
      "",
      `Cluster name: ${overview.cluster_name}`,
      "",
      "Disk Nodes",
      "",
      ...nodes.filter((n) => n.type === "disc").map((n) => n.name),
      "",
      "Running Nodes",
      "",
      ...running,
      "",
      "Versions",
      "",
      `${s.node}: Warren ${s.product_version} (RabbitMQ ${s.rabbitmq_version} compatible) on ${s.erlang_version}`,
      "",
      "Alarms",
      "",
      ...(s.alarms.length === 0
        ? ["(none)"]
        : s.alarms.map((a) => `Node ${a.node}: ${a.resource} alarm: ${a.reason}`)),
      "",
      "Network Partitions",
      "",
      ...(partitionLines.length === 0 ? ["(none)"] : partitionLines),
      "",
      "Listeners",
      "",
      ...s.listeners.map(
        (l) =>
          `Node: ${l.node}, interface: ${l.interface}, port: ${l.port}, protocol: ${l.protocol}, purpose: ${l.purpose}`,
      ),
    ];
    ctx.out.stdout(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};
