import { EXIT } from "./args.js";
import { atom, bin, kv, pretty, type Term, tuple } from "./erlang-term.js";
import { formatterOf, info } from "./output.js";
import type { Verb } from "./verb.js";

interface AlarmInfo {
  resource: string;
  node: string;
  reason: string;
}

/** A member as GET /api/warren/cluster answers (mgmt/views/cluster-view-json.ts). */
export interface MemberInfo {
  name: string;
  cluster_address: string;
  running: boolean;
  unreachable_since_ms: number | null;
  version: string | null;
  nodejs_version: string | null;
  alarms: AlarmInfo[] | null;
}

export interface ClusterInfo {
  clustered: boolean;
  node: string;
  cluster_name: string;
  members: MemberInfo[];
  partitions: Record<string, string[]>;
  paused: { reason: string; since_ms: number } | null;
  metadata: {
    role: string;
    term: number;
    leader: string | null;
    voters: string[];
    commit_index: number;
    applied_index: number;
    last_index: number;
    quorum_critical: boolean;
  } | null;
}

interface StatusInfo {
  node: string;
  product_version: string;
  rabbitmq_version: string;
  erlang_version: string;
  listeners: { interface: string; node: string; port: number; protocol: string; purpose: string }[];
}

/** Every alarm known, node by node (an unreachable node's are not known). */
function alarmsOf(c: ClusterInfo): AlarmInfo[] {
  return c.members.flatMap((m) => m.alarms ?? []);
}

/** Versions by node: this node's from its status, the others' as they told their node. */
function versions(c: ClusterInfo, s: StatusInfo): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const m of c.members) {
    if (m.name === s.node) {
      out[m.name] = {
        rabbitmq_name: "Warren",
        rabbitmq_version: s.rabbitmq_version,
        warren_version: s.product_version,
        erlang_version: s.erlang_version,
      };
    } else if (m.version !== null) {
      out[m.name] = {
        rabbitmq_name: "Warren",
        warren_version: m.version,
        ...(m.nodejs_version !== null ? { erlang_version: `Node.js ${m.nodejs_version}` } : {}),
      };
    }
  }
  return out;
}

function versionLine(node: string, v: Record<string, string>): string {
  const compat = v.rabbitmq_version ? ` (RabbitMQ ${v.rabbitmq_version} compatible)` : "";
  const runtime = v.erlang_version ? ` on ${v.erlang_version}` : "";
  return `${node}: Warren ${v.warren_version}${compat}${runtime}`;
}

/** rabbitmqctl's classic term: what the seed documents grep ({partitions,[]}). */
function erlangTerm(c: ClusterInfo): Term {
  const names = c.members.map((m) => atom(m.name));
  return [
    kv("nodes", [kv("disc", names)]),
    kv(
      "running_nodes",
      c.members.filter((m) => m.running).map((m) => atom(m.name)),
    ),
    kv("cluster_name", bin(c.cluster_name)),
    kv(
      "partitions",
      Object.entries(c.partitions).map(([n, peers]) => kv(n, peers.map(atom))),
    ),
    kv(
      "alarms",
      c.members
        .filter((m) => m.alarms !== null)
        .map((m) =>
          kv(
            m.name,
            (m.alarms ?? []).map((a) =>
              tuple(atom("resource_limit"), atom(a.resource), atom(a.node)),
            ),
          ),
        ),
    ),
  ];
}

/** What only a cluster shows: a pause and the metadata group. */
function clusterLines(c: ClusterInfo): string[] {
  if (!c.clustered) return [];
  const lines: string[] = [];
  if (c.paused) {
    lines.push(
      `Paused: ${c.paused.reason} (since ${new Date(c.paused.since_ms).toISOString()})`,
      "",
    );
  }
  const md = c.metadata;
  if (md) {
    lines.push(
      "Metadata Store",
      "",
      `Leader: ${md.leader ?? "(none known)"}, term ${md.term}`,
      `This node: ${md.role}, commit index ${md.commit_index}, applied index ${md.applied_index}, last index ${md.last_index}`,
      `Voters: ${md.voters.join(", ")}`,
      "",
    );
  }
  const down = c.members.filter((m) => !m.running);
  if (down.length > 0) {
    lines.push(
      "Unreachable Nodes",
      "",
      ...down.map(
        (m) =>
          `${m.name} (${m.cluster_address})${m.unreachable_since_ms !== null ? ` since ${new Date(m.unreachable_since_ms).toISOString()}` : ""}`,
      ),
      "",
    );
  }
  return lines;
}

/**
 * cluster_status: RabbitMQ's sections (Basics, Disk Nodes, Running Nodes, Versions, Alarms,
 * Network Partitions, Listeners) from the node's view of its cluster; a single node is a
 * one-node cluster of itself. An empty "Network Partitions" section is what the seed's step
 * 2 looks for. Listeners are this node's (the others' are not known here).
 */
export const clusterStatus: Verb = {
  name: "cluster_status",
  usage: "cluster_status [--formatter pretty|json|erlang]",
  description:
    "Displays all the nodes in the cluster grouped by node type, together with the currently running nodes",
  async run(ctx) {
    const formatter = formatterOf(ctx.args, ["pretty", "table", "json", "erlang"], "pretty");
    const [c, s] = await Promise.all([
      ctx.api.get<ClusterInfo>("/api/warren/cluster"),
      ctx.api.get<StatusInfo>("/api/warren/status"),
    ]);
    const all = c.members.map((m) => m.name);
    const running = c.members.filter((m) => m.running).map((m) => m.name);
    const alarms = alarmsOf(c);
    const v = versions(c, s);
    if (formatter === "json") {
      ctx.out.stdout(
        `${JSON.stringify({
          alarms,
          cluster_name: c.cluster_name,
          disk_nodes: all,
          listeners: { [s.node]: s.listeners },
          partitions: c.partitions,
          ram_nodes: [],
          running_nodes: running,
          versions: v,
        })}\n`,
      );
      return EXIT.ok;
    }
    info(ctx.out, ctx.args, `Cluster status of node ${s.node} ...`);
    if (formatter === "erlang") {
      ctx.out.stdout(`${pretty(erlangTerm(c))}\n`);
      return EXIT.ok;
    }
    // One line per pair, as the seed documents show it (seed 001: "rabbit@controller-02
    // cannot communicate with rabbit@controller-03"); RabbitMQ 3.8+ joins the peers of a node.
    const partitionLines = Object.entries(c.partitions).flatMap(([node, peers]) =>
      peers.map((p) => `${node} cannot communicate with ${p}`),
    );
    const lines = [
      "Basics",
      "",
      `Cluster name: ${c.cluster_name}`,
      "",
      ...clusterLines(c),
      "Disk Nodes",
      "",
      ...all,
      "",
      "Running Nodes",
      "",
      ...running,
      "",
      "Versions",
      "",
      ...Object.entries(v).map(([node, x]) => versionLine(node, x)),
      "",
      "Alarms",
      "",
      ...(alarms.length === 0
        ? ["(none)"]
        : alarms.map((a) => `Node ${a.node}: ${a.resource} alarm: ${a.reason}`)),
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
