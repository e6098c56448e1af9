import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfig, type ServerConfig } from "../../../src/cli/config.js";
import { parseConfigFile } from "../../../src/cli/config-file.js";

// --config FILE: RabbitMQ's rabbitmq.conf format and key names; flags and WARREN_*
// variables win over it.

const dir = mkdtempSync(join(tmpdir(), "warren-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const path = join(dir, `rabbitmq-${++n}.conf`);
  writeFileSync(path, text);
  return path;
}
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  loadConfig(argv, env, "mq1") as ServerConfig;

const CLUSTER_CONF = `# a three-node cluster, as in RabbitMQ's cluster formation guide
cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config
cluster_formation.classic_config.nodes.2 = warren@b
cluster_formation.classic_config.nodes.1 = warren@a
cluster_formation.classic_config.nodes.3 = warren@c:25999

cluster_name = prod-eu
node_name = warren@a
listeners.tcp.default = 5672
`;

test("the classic config node list, in number order, with the node name and cluster name", () => {
  const { settings, configFile } = load(["--config", file(CLUSTER_CONF)]);
  assert.equal(settings.nodeName, "warren@a");
  assert.equal(settings.clusterName, "prod-eu");
  assert.equal(settings.clusterPort, 25672);
  assert.deepEqual(settings.clusterNodes, [
    { name: "warren@a", host: "a", port: 25672 },
    { name: "warren@b", host: "b", port: 25672 },
    { name: "warren@c", host: "c", port: 25999 },
  ]);
  assert.match(configFile ?? "", /rabbitmq-\d+\.conf$/);
});

test("RabbitMQ's names for ports, limits and alarms set the same options as the flags", () => {
  const path = file(
    [
      "listeners.tcp.default = 5800",
      "management.tcp.port = 15800",
      "prometheus.tcp.port = 15900",
      "heartbeat = 30",
      "frame_max = 8192",
      "channel_max = 64",
      "max_message_size = 1000000",
      "consumer_timeout = 60000",
      "connection_max = 100",
      "vm_memory_high_watermark.relative = 0.5",
      "disk_free_limit.absolute = 1GB",
      "auth_mechanisms.2 = PLAIN",
      "auth_mechanisms.1 = AMQPLAIN",
      "log.console.level = debug",
      "cluster_port = 4000",
    ].join("\n"),
  );
  const c = load(["--config", path]);
  assert.equal(c.listen[0]?.port, 5800);
  assert.equal(c.mgmtPort, 15800);
  assert.equal(c.prometheusPort, 15900);
  assert.equal(c.settings.heartbeatSec, 30);
  assert.equal(c.settings.frameMax, 8192);
  assert.equal(c.settings.channelMax, 64);
  assert.equal(c.settings.maxMessageBytes, 1000000);
  assert.equal(c.settings.consumerTimeoutMs, 60000);
  assert.equal(c.settings.maxConnections, 100);
  assert.deepEqual(c.resourceLimits.memoryHighWatermark, { relative: 0.5 });
  assert.equal(c.resourceLimits.diskFreeLimitBytes, 1_000_000_000);
  assert.deepEqual(c.settings.authMechanisms, ["AMQPLAIN", "PLAIN"]);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.settings.clusterPort, 4000);
});

test("flags and WARREN_* variables win over the file; WARREN_CONFIG_FILE names it", () => {
  const path = file("node_name = warren@fromfile\nheartbeat = 30\n");
  assert.equal(load([], { WARREN_CONFIG_FILE: path }).settings.nodeName, "warren@fromfile");
  const c = load(["--config", path, "--node-name", "warren@flag"], { WARREN_HEARTBEAT: "10" });
  assert.equal(c.settings.nodeName, "warren@flag");
  assert.equal(c.settings.heartbeatSec, 10);
});

test("values from the file are validated as the flags are", () => {
  assert.throws(
    () => load(["--config", file("node_name = a@b@c\n")]),
    /--node-name 'a@b@c' is not a valid node name: it has more than one '@'/,
  );
  assert.throws(
    () => load(["--config", file("cluster_formation.classic_config.nodes.1 = a\n")]),
    /--cluster-nodes: 'a' is not name@host\[:port\]/,
  );
});

test("an unknown key stops the start with the file, the line and the keys Warren reads", () => {
  assert.throws(
    () => parseConfigFile("heartbeat = 30\nheartbeet = 30\n", "/etc/warren.conf"),
    (e: Error) =>
      e.message.startsWith("/etc/warren.conf:2: unknown setting 'heartbeet' (Warren reads ") &&
      e.message.includes("cluster_formation.classic_config.nodes.N"),
  );
});

test("malformed lines, repeated keys and other peer discovery backends stop the start", () => {
  const bad: [string, RegExp][] = [
    ["heartbeat 30", /f:1: expected 'key = value', got 'heartbeat 30'/],
    ["# ok\nheartbeat =", /f:2: 'heartbeat' has no value/],
    ["heartbeat = 1\nheartbeat = 2", /f:2: 'heartbeat' sets what 'heartbeat' already set/],
    [
      "vm_memory_high_watermark.relative = 0.4\nvm_memory_high_watermark.absolute = 2GB",
      /f:2: 'vm_memory_high_watermark.absolute' sets what 'vm_memory_high_watermark.relative' already set/,
    ],
    [
      "cluster_formation.classic_config.nodes.1 = warren@a\ncluster_formation.classic_config.nodes.1 = warren@b",
      /f:2: 'cluster_formation.classic_config.nodes.1' is set twice/,
    ],
    [
      "cluster_formation.classic_config.nodes.x = warren@a",
      /f:1: 'cluster_formation.classic_config.nodes.x' should end in a number/,
    ],
    [
      "cluster_formation.peer_discovery_backend = dns",
      /f:1: cluster_formation.peer_discovery_backend = dns is not available in Warren; use classic_config/,
    ],
    [
      "listeners.tcp.default = 127.0.0.1:5672",
      /f:1: listeners.tcp.default = 127.0.0.1:5672: Warren takes a port number here; choose the address with --host/,
    ],
  ];
  for (const [text, why] of bad) assert.throws(() => parseConfigFile(text, "f"), why, text);
});

test("blank lines, comments and CRLF line ends are fine", () => {
  assert.deepEqual(parseConfigFile("\r\n# comment\r\n  \r\nheartbeat = 30\r\n", "f"), {
    heartbeat: "30",
  });
  assert.deepEqual(
    parseConfigFile("cluster_formation.peer_discovery_backend = classic_config", "f"),
    {},
  );
});

test("a config file that cannot be read stops the start, naming it", () => {
  assert.throws(
    () => load(["--config", join(dir, "missing.conf")]),
    /cannot read the config file .*missing\.conf \(ENOENT\)/,
  );
});
