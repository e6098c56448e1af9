import type { ClusterNodeAddress } from "../vhost/broker-settings.js";

/**
 * Node names and cluster peer lists, as RabbitMQ writes them: a node is name@host
 * (rabbit@HOST there, warren@HOST here), and classic-config peer discovery lists the
 * cluster's nodes by name. Warren has no EPMD to ask for a peer's port, so a peer may
 * carry its cluster port: warren@a:25672.
 */

/** RabbitMQ's default distribution port, the cluster port of a node on AMQP port 5672. */
export const DEFAULT_CLUSTER_PORT = 25672;
/** The cluster port sits this far above the AMQP port (RabbitMQ: 5672 -> 25672). */
export const CLUSTER_PORT_OFFSET = 20000;

// Erlang node names are atoms (at most 255 characters). RabbitMQ's docs advise letters,
// digits, '-' and '_' before the '@'; the host part is a host name or an IPv4 address
// (':' would be taken for a port in a peer list).
const NAME_PART = /^[A-Za-z0-9_-]+$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const MAX_NODE_NAME = 255;

/** The short host name, as RabbitMQ's default node name uses (rabbit@myhost, not rabbit@myhost.example.com). */
export function shortHostName(fullHostName: string): string {
  const dot = fullHostName.indexOf(".");
  // An IPv4 address or a dotless name is kept whole.
  if (dot <= 0 || /^[0-9.]+$/.test(fullHostName)) return fullHostName;
  return fullHostName.slice(0, dot);
}

/**
 * A node name from --node-name: name@host, or a bare name that gets @HOST as RabbitMQ
 * adds it to RABBITMQ_NODENAME=rabbit. Throws, saying what is wrong, for anything else.
 */
export function parseNodeName(text: string, localHost: string, flag = "--node-name"): string {
  const full = text.includes("@") ? text : `${text}@${localHost}`;
  const problem = nodeNameProblem(full);
  if (problem) {
    throw new Error(
      `${flag} '${text}' is not a valid node name: ${problem} (expected name@host, e.g. warren@${localHost})`,
    );
  }
  return full;
}

function nodeNameProblem(full: string): string | undefined {
  if (full.length > MAX_NODE_NAME) return `longer than ${MAX_NODE_NAME} characters`;
  const parts = full.split("@");
  if (parts.length !== 2) return "it has more than one '@'";
  const [name, host] = parts as [string, string];
  if (name === "") return "the part before '@' is empty";
  if (!NAME_PART.test(name)) return `'${name}' may hold only letters, digits, '-' and '_'`;
  if (host === "") return "the host after '@' is empty";
  if (host.split(".").some((label) => !HOST_LABEL.test(label))) {
    return `'${host}' is not a host name or IPv4 address`;
  }
  return undefined;
}

/**
 * The cluster port: given, or the AMQP port + 20000 as RabbitMQ's distribution port.
 * A node on a system-picked AMQP port (0) gets a system-picked cluster port too.
 */
export function defaultClusterPort(amqpPort: number): number | undefined {
  if (amqpPort === 0) return 0;
  const port = amqpPort + CLUSTER_PORT_OFFSET;
  return port <= 65535 ? port : undefined;
}

/**
 * RabbitMQ's classic config node list: "warren@a:25672, warren@b" (commas or spaces).
 * A peer without a port is taken to listen where this node does (`defaultPort`), as the
 * nodes of one cluster usually share their configuration.
 */
export function parseClusterNodes(
  text: string,
  defaultPort: number,
  flag = "--cluster-nodes",
): ClusterNodeAddress[] {
  const entries = text.split(/[\s,]+/).filter((e) => e !== "");
  const nodes: ClusterNodeAddress[] = [];
  for (const entry of entries) {
    const node = parsePeer(entry, defaultPort, flag);
    if (nodes.some((n) => n.name === node.name)) {
      throw new Error(`${flag}: ${node.name} is listed twice`);
    }
    nodes.push(node);
  }
  return nodes;
}

function parsePeer(entry: string, defaultPort: number, flag: string): ClusterNodeAddress {
  const colon = entry.lastIndexOf(":");
  const name = colon < 0 ? entry : entry.slice(0, colon);
  if (!name.includes("@")) {
    throw new Error(
      `${flag}: '${entry}' is not name@host[:port] (a peer needs its full node name, e.g. warren@${name || "host"}:${DEFAULT_CLUSTER_PORT})`,
    );
  }
  const problem = nodeNameProblem(name);
  if (problem) throw new Error(`${flag}: '${entry}' is not a valid node name: ${problem}`);
  let port = defaultPort === 0 ? DEFAULT_CLUSTER_PORT : defaultPort;
  if (colon >= 0) {
    const portText = entry.slice(colon + 1);
    port = Number(portText);
    if (!/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
      throw new Error(`${flag}: '${entry}' has port '${portText}'; a port is 1 to 65535`);
    }
  }
  return { name, host: name.slice(name.indexOf("@") + 1), port };
}

/** For log lines: "warren@a:25672, warren@b:25672". */
export function formatClusterNodes(nodes: readonly ClusterNodeAddress[]): string {
  return nodes.map((n) => `${n.name}:${n.port}`).join(", ");
}
