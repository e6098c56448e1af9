/**
 * The config file (--config FILE): RabbitMQ's rabbitmq.conf format, one `key = value`
 * a line, `#` comment lines, and RabbitMQ's key names where RabbitMQ has the setting.
 * Each key becomes the command-line option it stands for, so the file obeys the same
 * validation; flags and WARREN_* variables win over it.
 *
 * An unknown key stops the start, as RabbitMQ does: a misspelt setting silently
 * ignored is a setting the operator believes in and does not have.
 */

/** File keys that are one option each (RabbitMQ's name -> Warren's flag). */
const SINGLE_KEYS: Readonly<Record<string, string>> = {
  "listeners.tcp.default": "port",
  "management.tcp.port": "mgmt-port",
  "prometheus.tcp.port": "prometheus-port",
  heartbeat: "heartbeat",
  frame_max: "frame-max",
  channel_max: "channel-max",
  max_message_size: "max-message-size",
  consumer_timeout: "consumer-timeout",
  connection_max: "max-connections",
  "vm_memory_high_watermark.relative": "vm-memory-high-watermark",
  "vm_memory_high_watermark.absolute": "vm-memory-high-watermark",
  "disk_free_limit.absolute": "disk-free-limit",
  ssl_cert_login_from: "ssl-cert-login-from",
  "log.console.level": "log-level",
  cluster_name: "cluster-name",
  // Warren's own: RabbitMQ sets these outside rabbitmq.conf (RABBITMQ_NODENAME,
  // RABBITMQ_DIST_PORT).
  node_name: "node-name",
  cluster_port: "cluster-port",
};

/** File keys numbered .1, .2, ... that together make one list option. */
const LIST_KEYS: Readonly<Record<string, string>> = {
  "auth_mechanisms.": "auth-mechanisms",
  "cluster_formation.classic_config.nodes.": "cluster-nodes",
};

const PEER_DISCOVERY_KEY = "cluster_formation.peer_discovery_backend";
// RabbitMQ accepts the short name and the module name.
const CLASSIC_CONFIG = ["classic_config", "rabbit_peer_discovery_classic_config"];

/** The options a config file sets, by flag name ("port", "cluster-nodes", ...). */
export type FileOptions = Readonly<Record<string, string>>;

/** Parses rabbitmq.conf-style text; `path` names the file in errors. Pure. */
export function parseConfigFile(text: string, path: string): FileOptions {
  const single: Record<string, string> = {};
  const setBy: Record<string, string> = {};
  const lists = new Map<string, { n: number; value: string }[]>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const where = `${path}:${i + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`${where}: expected 'key = value', got '${line}'`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (value === "") throw new Error(`${where}: '${key}' has no value`);
    if (key === PEER_DISCOVERY_KEY) {
      checkPeerDiscovery(value, where);
      continue;
    }
    const listEntry = listKey(key, where);
    if (listEntry) {
      const items = lists.get(listEntry.flag) ?? [];
      if (items.some((item) => item.n === listEntry.n))
        throw new Error(`${where}: '${key}' is set twice`);
      items.push({ n: listEntry.n, value });
      lists.set(listEntry.flag, items);
      continue;
    }
    const flag = SINGLE_KEYS[key];
    if (flag === undefined) throw new Error(`${where}: unknown setting '${key}' (${knownKeys()})`);
    if (setBy[flag] !== undefined) {
      throw new Error(`${where}: '${key}' sets what '${setBy[flag]}' already set`);
    }
    setBy[flag] = key;
    single[flag] = flag === "port" ? tcpListenerPort(value, where) : value;
  }
  for (const [flag, items] of lists) {
    // RabbitMQ orders numbered entries by their number, not by their line.
    single[flag] = items
      .sort((a, b) => a.n - b.n)
      .map((item) => item.value)
      .join(",");
  }
  return single;
}

function listKey(key: string, where: string): { flag: string; n: number } | undefined {
  for (const [prefix, flag] of Object.entries(LIST_KEYS)) {
    if (!key.startsWith(prefix)) continue;
    const suffix = key.slice(prefix.length);
    if (!/^[0-9]+$/.test(suffix)) {
      throw new Error(`${where}: '${key}' should end in a number (${prefix}1, ${prefix}2, ...)`);
    }
    return { flag, n: Number(suffix) };
  }
  return undefined;
}

function checkPeerDiscovery(value: string, where: string): void {
  if (CLASSIC_CONFIG.includes(value)) return;
  throw new Error(
    `${where}: ${PEER_DISCOVERY_KEY} = ${value} is not available in Warren; ` +
      "use classic_config and list the nodes as cluster_formation.classic_config.nodes.1 = warren@host, ...",
  );
}

/** listeners.tcp.default is a port or, in RabbitMQ, an address:port; Warren takes the port. */
function tcpListenerPort(value: string, where: string): string {
  if (/^[0-9]+$/.test(value)) return value;
  throw new Error(
    `${where}: listeners.tcp.default = ${value}: Warren takes a port number here; ` +
      "choose the address with --host or WARREN_HOST",
  );
}

function knownKeys(): string {
  const lists = Object.keys(LIST_KEYS).map((prefix) => `${prefix}N`);
  return `Warren reads ${[...Object.keys(SINGLE_KEYS), ...lists, PEER_DISCOVERY_KEY].join(", ")}`;
}
