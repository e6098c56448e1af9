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

/** Flags first, then WARREN_* environment variables, then defaults. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig | "help" {
  const { values } = parseArgs({
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
      "discard-unclaimed-messages": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const port = int("--port", values.port ?? env.WARREN_PORT, 5672);
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  const host = values.host ?? env.WARREN_HOST;
  const listen = host
    ? [{ host, port }]
    : [
        { host: "127.0.0.1", port },
        { host: "::1", port },
      ];
  const settings: BrokerSettings = {
    ...DEFAULT_SETTINGS,
    heartbeatSec: int(
      "--heartbeat",
      values.heartbeat ?? env.WARREN_HEARTBEAT,
      DEFAULT_SETTINGS.heartbeatSec,
    ),
    frameMax: int(
      "--frame-max",
      values["frame-max"] ?? env.WARREN_FRAME_MAX,
      DEFAULT_SETTINGS.frameMax,
    ),
    channelMax: int(
      "--channel-max",
      values["channel-max"] ?? env.WARREN_CHANNEL_MAX,
      DEFAULT_SETTINGS.channelMax,
    ),
    maxConnections: int(
      "--max-connections",
      values["max-connections"] ?? env.WARREN_MAX_CONNECTIONS,
      0,
    ),
    tcpKeepaliveSec: int("--tcp-keepalive", values["tcp-keepalive"] ?? env.WARREN_TCP_KEEPALIVE, 0),
    consumerTimeoutMs: int(
      "--consumer-timeout",
      values["consumer-timeout"] ?? env.WARREN_CONSUMER_TIMEOUT,
      DEFAULT_SETTINGS.consumerTimeoutMs,
    ),
    maxMessageBytes: int(
      "--max-message-size",
      values["max-message-size"] ?? env.WARREN_MAX_MESSAGE_SIZE,
      DEFAULT_SETTINGS.maxMessageBytes,
    ),
    authMechanisms: authMechanisms(values["auth-mechanisms"] ?? env.WARREN_AUTH_MECHANISMS),
    sslCertLoginFrom: certLoginFrom(
      values["ssl-cert-login-from"] ?? env.WARREN_SSL_CERT_LOGIN_FROM,
    ),
  };
  if (settings.frameMax < 4096)
    throw new Error("--frame-max must be at least 4096 (AMQP frame-min-size)");
  const mgmtPort = int("--mgmt-port", values["mgmt-port"] ?? env.WARREN_MGMT_PORT, 15672);
  const prometheusPort = int(
    "--prometheus-port",
    values["prometheus-port"] ?? env.WARREN_PROMETHEUS_PORT,
    15692,
  );
  for (const [flag, p] of [
    ["--mgmt-port", mgmtPort],
    ["--prometheus-port", prometheusPort],
  ] as const) {
    if (p > 65535) throw new Error(`${flag} must be at most 65535, got ${p}`);
  }
  const tls = tlsConfig(values, env, listen);
  if (settings.authMechanisms.includes("EXTERNAL") && (tls?.verify ?? "none") === "none") {
    // EXTERNAL is offered only with a verified client certificate: without one it never could be.
    throw new Error(
      "--auth-mechanisms EXTERNAL needs client certificates: --tls-cert, --tls-ca and --tls-verify peer or peer-required",
    );
  }
  return {
    settings,
    listen,
    mgmtPort,
    prometheusPort,
    dataDir: values["data-dir"] ?? env.WARREN_DATA_DIR ?? "./data",
    discardUnclaimedMessages: values["discard-unclaimed-messages"] ?? false,
    logLevel: values["log-level"] ?? env.WARREN_LOG_LEVEL ?? "info",
    resourceLimits: {
      memoryHighWatermark: parseWatermark(
        values["vm-memory-high-watermark"] ?? env.WARREN_VM_MEMORY_HIGH_WATERMARK ?? "0.6",
      ),
      diskFreeLimitBytes: parseBytes(
        values["disk-free-limit"] ?? env.WARREN_DISK_FREE_LIMIT ?? "50MB",
      ),
    },
    segmentBytes:
      (values["segment-bytes"] ?? env.WARREN_SEGMENT_BYTES)
        ? int("--segment-bytes", values["segment-bytes"] ?? env.WARREN_SEGMENT_BYTES, 0)
        : undefined,
    tls,
  };
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
function tlsConfig(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  amqp: readonly ListenAddress[],
): TlsOptions | undefined {
  const flag = (name: string, envName: string) =>
    (values[name] as string | undefined) ?? env[envName];
  const certFile = flag("tls-cert", "WARREN_TLS_CERT");
  const keyFile = flag("tls-key", "WARREN_TLS_KEY");
  const caFile = flag("tls-ca", "WARREN_TLS_CA");
  const portText = flag("tls-port", "WARREN_TLS_PORT");
  const verify = (flag("tls-verify", "WARREN_TLS_VERIFY") ?? "none") as TlsVerify;
  const host = flag("tls-host", "WARREN_TLS_HOST");
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
