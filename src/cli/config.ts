import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { SUPPORTED_MECHANISMS } from "../connection/sasl.js";
import type { ListenAddress } from "../runtime/amqp-listener.js";
import { parseBytes, parseWatermark, type ResourceLimits } from "../runtime/resource-monitor.js";
import type { TlsOptions, TlsVerify } from "../runtime/tls-listener.js";
import {
  type BrokerSettings,
  type CertLoginFrom,
  DEFAULT_SETTINGS,
} from "../vhost/broker-settings.js";
import { type FileOptions, parseConfigFile } from "./config-file.js";
import {
  defaultClusterPort,
  parseClusterNodes,
  parseNodeName,
  shortHostName,
} from "./node-names.js";

/** The cluster secret when the operator gave it (otherwise the node uses its cookie file). */
export interface GivenClusterSecret {
  readonly value: string;
  /** Where it came from, for the log (never the value itself). */
  readonly source: "--cluster-secret" | "WARREN_CLUSTER_SECRET";
}

export interface ServerConfig {
  readonly settings: BrokerSettings;
  readonly listen: ListenAddress[];
  readonly dataDir: string;
  readonly logLevel: string;
  /** Message log segment size in bytes (tests use small ones). */
  readonly segmentBytes: number | undefined;
  /** amqps, when a certificate is given. */
  readonly tls: TlsOptions | undefined;
  readonly resourceLimits: ResourceLimits;
  /** Management HTTP API port (0 disables it). */
  readonly mgmtPort: number;
  /** Prometheus metrics port (0 disables it). */
  readonly prometheusPort: number;
  /** Drop persistent messages no definition accounts for (an operator's deliberate choice). */
  readonly discardUnclaimedMessages: boolean;
  /** --cluster-secret or WARREN_CLUSTER_SECRET; absent means the data dir's .warren-cookie. */
  readonly clusterSecret: GivenClusterSecret | undefined;
  /** The config file read, if any. */
  readonly configFile: string | undefined;
}

export const USAGE = `Usage: warren [options]   (or: npm start -- [options])

Options (each has an environment variable; flags win):
  --port N             AMQP port (WARREN_PORT, default 5672)
  --host H             listen on this address only (WARREN_HOST, default 127.0.0.1 and ::1)
  --data-dir DIR       data directory (WARREN_DATA_DIR, default ./data)
  --heartbeat S        heartbeat timeout proposed to clients, seconds (WARREN_HEARTBEAT, default 60)
  --frame-max N        largest frame accepted, bytes (WARREN_FRAME_MAX, default 131072)
  --channel-max N      highest channel number (WARREN_CHANNEL_MAX, default 2047)
  --max-message-size N largest message body, bytes (WARREN_MAX_MESSAGE_SIZE, default 16777216)
  --log-level L        trace, debug, info, warn, error (WARREN_LOG_LEVEL, default info)
  --segment-bytes N    message log segment size (WARREN_SEGMENT_BYTES, default 67108864)
  --mgmt-port N        management HTTP API port, 0 disables (WARREN_MGMT_PORT, default 15672)
  --prometheus-port N  Prometheus metrics port, 0 disables (WARREN_PROMETHEUS_PORT, default 15692)
  --consumer-timeout MS delivery acknowledgement timeout (WARREN_CONSUMER_TIMEOUT, default 1800000, 0 = off)
  --tls-cert FILE      server certificate (PEM); turns amqps on (WARREN_TLS_CERT)
  --tls-key FILE       its private key (PEM) (WARREN_TLS_KEY)
  --tls-ca FILE        CA certificates that client certificates must chain to (WARREN_TLS_CA)
  --tls-verify MODE    client certificates: none, peer or peer-required (WARREN_TLS_VERIFY, default none)
  --tls-port N         amqps port (WARREN_TLS_PORT, default 5671; 0 picks a free one)
  --tls-host H         amqps listens on this address only (WARREN_TLS_HOST, default as --host)
  --auth-mechanisms L  SASL mechanisms offered, in order, comma-separated: PLAIN, AMQPLAIN,
                       EXTERNAL (WARREN_AUTH_MECHANISMS, default PLAIN,AMQPLAIN)
  --ssl-cert-login-from F  where EXTERNAL finds the user name: distinguished_name or
                       common_name (WARREN_SSL_CERT_LOGIN_FROM, default distinguished_name)
  --vm-memory-high-watermark W  memory alarm threshold: a fraction of RAM (0.6) or a size (2GB)
                       (WARREN_VM_MEMORY_HIGH_WATERMARK, default 0.6)
  --disk-free-limit S  disk alarm when free space under the data directory falls below S
                       (WARREN_DISK_FREE_LIMIT, default 50MB)
  --max-connections N  most AMQP connections on the node (WARREN_MAX_CONNECTIONS, default 0 = no limit)
  --tcp-keepalive S    TCP keepalive after S idle seconds (WARREN_TCP_KEEPALIVE, default 0 = off)
  --node-name N        this node's name, name@host (WARREN_NODE_NAME, default warren@HOST with the
                       short host name; a bare name gets @HOST)
  --cluster-name N     the cluster's name shown to clients and in the API (WARREN_CLUSTER_NAME,
                       default the node name)
  --cluster-port N     port other cluster nodes reach this one on (WARREN_CLUSTER_PORT,
                       default AMQP port + 20000, i.e. 25672)
  --cluster-nodes L    the cluster's nodes, name@host[:port] comma-separated (WARREN_CLUSTER_NODES;
                       a peer without a port is taken to use this node's cluster port)
  --cluster-secret S   the secret every node of the cluster shares (WARREN_CLUSTER_SECRET; default
                       the file .warren-cookie in the data directory, created on first start)
  --config FILE        a rabbitmq.conf-style file (WARREN_CONFIG_FILE); flags and variables win
  --discard-unclaimed-messages  delete stored messages that no definition accounts for, instead of
                       keeping them (or refusing to start without definitions): see docs/OPERATIONS.md
  --help               this text
`;

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got '${value}'`);
  return n;
}

/**
 * Flags first, then WARREN_* environment variables, then the config file, then defaults.
 * `localHost` is the host part of the default node name (the short host name).
 */
export function loadConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
  localHost = shortHostName(hostname()),
): ServerConfig | "help" {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      heartbeat: { type: "string" },
      "frame-max": { type: "string" },
      "channel-max": { type: "string" },
      "max-message-size": { type: "string" },
      "log-level": { type: "string" },
      "segment-bytes": { type: "string" },
      "mgmt-port": { type: "string" },
      "prometheus-port": { type: "string" },
      "consumer-timeout": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-ca": { type: "string" },
      "tls-verify": { type: "string" },
      "tls-port": { type: "string" },
      "tls-host": { type: "string" },
      "auth-mechanisms": { type: "string" },
      "ssl-cert-login-from": { type: "string" },
      "vm-memory-high-watermark": { type: "string" },
      "disk-free-limit": { type: "string" },
      "max-connections": { type: "string" },
      "tcp-keepalive": { type: "string" },
      "node-name": { type: "string" },
      "cluster-name": { type: "string" },
      "cluster-port": { type: "string" },
      "cluster-nodes": { type: "string" },
      "cluster-secret": { type: "string" },
      config: { type: "string" },
      "discard-unclaimed-messages": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (flags.help) return "help";
  const configFile = flags.config ?? env.WARREN_CONFIG_FILE;
  const file = configFile ? readConfigFile(configFile) : {};
  const opt = optionSource(flags, env, file);
  const port = int("--port", opt("port"), 5672);
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  const host = opt("host");
  const listen = host
    ? [{ host, port }]
    : [
        { host: "127.0.0.1", port },
        { host: "::1", port },
      ];
  const settings: BrokerSettings = {
    ...DEFAULT_SETTINGS,
    heartbeatSec: int("--heartbeat", opt("heartbeat"), DEFAULT_SETTINGS.heartbeatSec),
    frameMax: int("--frame-max", opt("frame-max"), DEFAULT_SETTINGS.frameMax),
    channelMax: int("--channel-max", opt("channel-max"), DEFAULT_SETTINGS.channelMax),
    maxConnections: int("--max-connections", opt("max-connections"), 0),
    tcpKeepaliveSec: int("--tcp-keepalive", opt("tcp-keepalive"), 0),
    consumerTimeoutMs: int(
      "--consumer-timeout",
      opt("consumer-timeout"),
      DEFAULT_SETTINGS.consumerTimeoutMs,
    ),
    maxMessageBytes: int(
      "--max-message-size",
      opt("max-message-size"),
      DEFAULT_SETTINGS.maxMessageBytes,
    ),
    authMechanisms: authMechanisms(opt("auth-mechanisms")),
    sslCertLoginFrom: certLoginFrom(opt("ssl-cert-login-from")),
    ...clusterSettings(opt, port, localHost),
  };
  if (settings.frameMax < 4096)
    throw new Error("--frame-max must be at least 4096 (AMQP frame-min-size)");
  const mgmtPort = int("--mgmt-port", opt("mgmt-port"), 15672);
  const prometheusPort = int("--prometheus-port", opt("prometheus-port"), 15692);
  for (const [flag, p] of [
    ["--mgmt-port", mgmtPort],
    ["--prometheus-port", prometheusPort],
  ] as const) {
    if (p > 65535) throw new Error(`${flag} must be at most 65535, got ${p}`);
  }
  const tls = tlsConfig(opt, listen);
  const clusterPort = checkClusterPort(settings, opt("cluster-port") !== undefined, [
    ["AMQP", port],
    ["management", mgmtPort],
    ["Prometheus", prometheusPort],
    ["amqps", tls?.listen[0]?.port ?? 0],
  ]);
  if (settings.authMechanisms.includes("EXTERNAL") && (tls?.verify ?? "none") === "none") {
    // EXTERNAL is offered only with a verified client certificate: without one it never could be.
    throw new Error(
      "--auth-mechanisms EXTERNAL needs client certificates: --tls-cert, --tls-ca and --tls-verify peer or peer-required",
    );
  }
  return {
    settings: { ...settings, clusterPort },
    listen,
    mgmtPort,
    prometheusPort,
    dataDir: opt("data-dir") ?? "./data",
    discardUnclaimedMessages: flags["discard-unclaimed-messages"] ?? false,
    logLevel: opt("log-level") ?? "info",
    resourceLimits: {
      memoryHighWatermark: parseWatermark(opt("vm-memory-high-watermark") ?? "0.6"),
      diskFreeLimitBytes: parseBytes(opt("disk-free-limit") ?? "50MB"),
    },
    segmentBytes: opt("segment-bytes")
      ? int("--segment-bytes", opt("segment-bytes"), 0)
      : undefined,
    tls,
    clusterSecret: clusterSecret(flags["cluster-secret"], env.WARREN_CLUSTER_SECRET),
    configFile,
  };
}

type OptionSource = (name: string) => string | undefined;

/** An option's value: its flag, else WARREN_<NAME> (--frame-max: WARREN_FRAME_MAX), else the file. */
function optionSource(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  file: FileOptions,
): OptionSource {
  return (name) =>
    (flags[name] as string | undefined) ??
    env[`WARREN_${name.toUpperCase().replaceAll("-", "_")}`] ??
    file[name];
}

function readConfigFile(path: string): FileOptions {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the config file ${path} (${code ?? (e as Error).message})`);
  }
  return parseConfigFile(text, path);
}

/** Node name, cluster name, cluster port and the configured peers (issue 16, classic config). */
function clusterSettings(
  opt: OptionSource,
  amqpPort: number,
  localHost: string,
): Pick<BrokerSettings, "nodeName" | "clusterName" | "clusterPort" | "clusterNodes"> {
  const nodeName = parseNodeName(opt("node-name") ?? "warren", localHost);
  const clusterName = opt("cluster-name") ?? nodeName;
  if (clusterName.trim() === "") throw new Error("--cluster-name must not be empty");
  const portText = opt("cluster-port");
  const nodesText = opt("cluster-nodes");
  let clusterPort: number;
  if (portText !== undefined && portText !== "") {
    clusterPort = int("--cluster-port", portText, 0);
    if (clusterPort > 65535)
      throw new Error(`--cluster-port must be at most 65535, got ${clusterPort}`);
  } else {
    const derived = defaultClusterPort(amqpPort);
    // Only a node that is to be clustered needs a port others can know in advance.
    if (derived === undefined && nodesText) {
      throw new Error(
        `the default cluster port (AMQP port ${amqpPort} + 20000) is above 65535: give --cluster-port`,
      );
    }
    clusterPort = derived ?? 0;
  }
  const clusterNodes = nodesText ? parseClusterNodes(nodesText, clusterPort) : [];
  const self = clusterNodes.find((n) => n.name === nodeName);
  if (self && clusterPort !== 0 && self.port !== clusterPort) {
    throw new Error(
      `--cluster-nodes lists this node (${nodeName}) on port ${self.port}, but its cluster port is ${clusterPort}`,
    );
  }
  return { nodeName, clusterName, clusterPort, clusterNodes };
}

/**
 * The cluster port is a listener of its own and cannot share a port with another one.
 * A lone node whose derived default (AMQP + 20000) is taken by another of its ports gets
 * a system-picked one instead, so a configuration that started before still starts.
 */
function checkClusterPort(
  settings: BrokerSettings,
  given: boolean,
  others: [string, number][],
): number {
  const { clusterPort } = settings;
  const clash = others.find(([, port]) => clusterPort !== 0 && port === clusterPort);
  if (!clash) return clusterPort;
  if (given)
    throw new Error(`--cluster-port ${clusterPort} is the ${clash[0]} port; choose another`);
  if (settings.clusterNodes.length === 0) return 0;
  throw new Error(
    `the default cluster port ${clusterPort} (AMQP port + 20000) is the ${clash[0]} port: give --cluster-port`,
  );
}

function clusterSecret(
  flag: string | undefined,
  env: string | undefined,
): GivenClusterSecret | undefined {
  const given =
    flag !== undefined
      ? { value: flag, source: "--cluster-secret" as const }
      : env !== undefined
        ? { value: env, source: "WARREN_CLUSTER_SECRET" as const }
        : undefined;
  if (given && given.value.trim() === "") {
    throw new Error(
      `${given.source} is empty; give the secret every node of the cluster shares, or leave it out to use the data directory's .warren-cookie`,
    );
  }
  return given;
}

/** RabbitMQ's auth_mechanisms as a list: "PLAIN,AMQPLAIN,EXTERNAL" (case does not matter). */
function authMechanisms(text: string | undefined): readonly string[] {
  if (text === undefined) return DEFAULT_SETTINGS.authMechanisms;
  const names = text
    .split(/[\s,]+/)
    .filter((n) => n !== "")
    .map((n) => n.toUpperCase());
  if (names.length === 0) throw new Error("--auth-mechanisms needs at least one mechanism");
  for (const [i, name] of names.entries()) {
    if (!SUPPORTED_MECHANISMS.includes(name)) {
      throw new Error(
        `--auth-mechanisms: unknown mechanism '${name}' (Warren has ${SUPPORTED_MECHANISMS.join(", ")})`,
      );
    }
    if (names.indexOf(name) !== i) throw new Error(`--auth-mechanisms: '${name}' is listed twice`);
  }
  return names;
}

const CERT_LOGIN_FROM: readonly CertLoginFrom[] = ["distinguished_name", "common_name"];

function certLoginFrom(text: string | undefined): CertLoginFrom {
  if (text === undefined || text === "") return DEFAULT_SETTINGS.sslCertLoginFrom;
  if (!CERT_LOGIN_FROM.includes(text as CertLoginFrom)) {
    throw new Error(
      `--ssl-cert-login-from must be one of ${CERT_LOGIN_FROM.join(", ")}, got '${text}'`,
    );
  }
  return text as CertLoginFrom;
}

const TLS_VERIFY: readonly TlsVerify[] = ["none", "peer", "peer-required"];

/** amqps is on when a certificate is given; it listens where AMQP does unless --tls-host says. */
function tlsConfig(opt: OptionSource, amqp: readonly ListenAddress[]): TlsOptions | undefined {
  const certFile = opt("tls-cert");
  const keyFile = opt("tls-key");
  const caFile = opt("tls-ca");
  const portText = opt("tls-port");
  const verify = (opt("tls-verify") ?? "none") as TlsVerify;
  const host = opt("tls-host");
  if (!certFile) {
    if (keyFile || caFile || portText || host) throw new Error("--tls-* options need --tls-cert");
    return undefined;
  }
  if (!keyFile) throw new Error("--tls-cert needs --tls-key");
  if (!TLS_VERIFY.includes(verify))
    throw new Error(`--tls-verify must be one of ${TLS_VERIFY.join(", ")}, got '${verify}'`);
  if (verify !== "none" && !caFile) throw new Error(`--tls-verify ${verify} needs --tls-ca`);
  const port = int("--tls-port", portText, 5671);
  if (port > 65535) throw new Error(`--tls-port must be at most 65535, got ${port}`);
  const listen = host ? [{ host, port }] : amqp.map((a) => ({ host: a.host, port }));
  return { listen, certFile, keyFile, caFile, verify };
}
