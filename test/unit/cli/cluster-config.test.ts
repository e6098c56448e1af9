import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig, type ServerConfig } from "../../../src/cli/config.js";
import { parseClusterNodes, parseNodeName, shortHostName } from "../../../src/cli/node-names.js";

// Issue 16 item 1: a node's name, cluster port, peers and secret, as RabbitMQ's
// node name, distribution port, classic config peer discovery and Erlang cookie.

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  loadConfig(argv, env, "mq1") as ServerConfig;

describe("node name", () => {
  test("defaults to warren@ the short host name, as RabbitMQ's rabbit@HOST", () => {
    const { settings } = load([]);
    assert.equal(settings.nodeName, "warren@mq1");
    assert.equal(settings.clusterName, "warren@mq1");
    assert.equal(shortHostName("mq1.example.com"), "mq1");
    assert.equal(shortHostName("10.0.0.7"), "10.0.0.7");
    assert.equal(shortHostName("vm"), "vm");
  });

  test("--node-name and WARREN_NODE_NAME set it, flags win; a bare name gets @HOST as RabbitMQ's", () => {
    assert.equal(load(["--node-name", "hare@mq2"]).settings.nodeName, "hare@mq2");
    assert.equal(load([], { WARREN_NODE_NAME: "hare@mq3" }).settings.nodeName, "hare@mq3");
    assert.equal(
      load(["--node-name", "a@b"], { WARREN_NODE_NAME: "c@d" }).settings.nodeName,
      "a@b",
    );
    assert.equal(load(["--node-name", "hare"]).settings.nodeName, "hare@mq1");
    assert.equal(load(["--node-name", "w-1@10.0.0.7"]).settings.nodeName, "w-1@10.0.0.7");
  });

  test("the cluster name follows the node name unless --cluster-name gives one", () => {
    assert.equal(load(["--node-name", "hare@mq2"]).settings.clusterName, "hare@mq2");
    assert.equal(
      load(["--node-name", "hare@mq2", "--cluster-name", "prod"]).settings.clusterName,
      "prod",
    );
  });

  test("a name that is not name@host stops the start, saying what is wrong", () => {
    const bad: [string, RegExp][] = [
      ["a@b@c", /more than one '@'/],
      ["@mq1", /the part before '@' is empty/],
      ["warren@", /the host after '@' is empty/],
      ["war ren@mq1", /'war ren' may hold only letters, digits, '-' and '_'/],
      ["warren@mq_1", /'mq_1' is not a host name or IPv4 address/],
      ["warren@mq1:25672", /'mq1:25672' is not a host name/],
      ["warren@-mq1", /not a host name/],
      [`${"w".repeat(260)}@mq1`, /longer than 255 characters/],
    ];
    for (const [name, why] of bad) {
      assert.throws(
        () => load(["--node-name", name]),
        (e: Error) =>
          e.message.startsWith(`--node-name '${name}' is not a valid node name: `) &&
          why.test(e.message) &&
          e.message.endsWith("(expected name@host, e.g. warren@mq1)"),
        name,
      );
    }
    assert.throws(() => parseNodeName("", "mq1"), /the part before '@' is empty/);
  });
});

describe("cluster port", () => {
  test("defaults to the AMQP port + 20000, as RabbitMQ's distribution port", () => {
    assert.equal(load([]).settings.clusterPort, 25672);
    assert.equal(load(["--port", "5673"]).settings.clusterPort, 25673);
    // A node on a system-picked AMQP port gets a system-picked cluster port.
    assert.equal(load(["--port", "0"]).settings.clusterPort, 0);
  });

  test("--cluster-port and WARREN_CLUSTER_PORT set it", () => {
    assert.equal(load(["--cluster-port", "4000"]).settings.clusterPort, 4000);
    assert.equal(load([], { WARREN_CLUSTER_PORT: "4001" }).settings.clusterPort, 4001);
  });

  test("a bad cluster port stops the start", () => {
    assert.throws(
      () => load(["--cluster-port", "x"]),
      /--cluster-port must be a non-negative integer, got 'x'/,
    );
    assert.throws(
      () => load(["--cluster-port", "70000"]),
      /--cluster-port must be at most 65535, got 70000/,
    );
    assert.throws(
      () => load(["--cluster-port", "15692"]),
      /--cluster-port 15692 is the Prometheus port; choose another/,
    );
    assert.throws(
      () => load(["--cluster-port", "15672"]),
      /--cluster-port 15672 is the management port; choose another/,
    );
    assert.throws(
      () => load(["--cluster-port", "5672"]),
      /--cluster-port 5672 is the AMQP port; choose another/,
    );
  });

  test("a default cluster port that another listener has is replaced for a lone node, refused for a clustered one", () => {
    assert.equal(load(["--mgmt-port", "25672"]).settings.clusterPort, 0);
    assert.throws(
      () => load(["--mgmt-port", "25672", "--cluster-nodes", "warren@a:25672"]),
      /the default cluster port 25672 \(AMQP port \+ 20000\) is the management port: give --cluster-port/,
    );
  });

  test("an AMQP port too high for + 20000 needs --cluster-port only when peers are configured", () => {
    assert.equal(load(["--port", "50000"]).settings.clusterPort, 0);
    assert.throws(
      () => load(["--port", "50000", "--cluster-nodes", "warren@a"]),
      /the default cluster port \(AMQP port 50000 \+ 20000\) is above 65535: give --cluster-port/,
    );
    assert.equal(
      load(["--port", "50000", "--cluster-port", "4000", "--cluster-nodes", "warren@a"]).settings
        .clusterNodes[0]?.port,
      4000,
    );
  });
});

describe("cluster nodes (classic config peer discovery)", () => {
  test("none by default: a lone node", () => {
    assert.deepEqual(load([]).settings.clusterNodes, []);
  });

  test("--cluster-nodes lists name@host[:port]; a peer without a port uses this node's cluster port", () => {
    const { settings } = load([
      "--cluster-nodes",
      "warren@a:25672, warren@b:26000 warren@c,hare@10.0.0.4",
      "--port",
      "5673",
    ]);
    assert.deepEqual(settings.clusterNodes, [
      { name: "warren@a", host: "a", port: 25672 },
      { name: "warren@b", host: "b", port: 26000 },
      { name: "warren@c", host: "c", port: 25673 },
      { name: "hare@10.0.0.4", host: "10.0.0.4", port: 25673 },
    ]);
    assert.deepEqual(load([], { WARREN_CLUSTER_NODES: "warren@a" }).settings.clusterNodes, [
      { name: "warren@a", host: "a", port: 25672 },
    ]);
  });

  test("a node on a system-picked port takes peers without a port to be on 25672", () => {
    assert.deepEqual(parseClusterNodes("warren@a", 0), [
      { name: "warren@a", host: "a", port: 25672 },
    ]);
  });

  test("bad entries stop the start with the entry and what is wrong", () => {
    const bad: [string, RegExp][] = [
      [
        "a",
        /'a' is not name@host\[:port\] \(a peer needs its full node name, e.g. warren@a:25672\)/,
      ],
      ["warren@a:0", /'warren@a:0' has port '0'; a port is 1 to 65535/],
      ["warren@a:99999", /has port '99999'/],
      ["warren@a:x", /has port 'x'/],
      ["warren@a:", /has port ''/],
      ["warren@a@b", /'warren@a@b' is not a valid node name: it has more than one '@'/],
      ["warren@a,warren@a:25672", /--cluster-nodes: warren@a is listed twice/],
    ];
    for (const [text, why] of bad) {
      assert.throws(() => load(["--cluster-nodes", text]), why, text);
    }
  });

  test("this node listed on a port other than its own cluster port stops the start", () => {
    assert.throws(
      () => load(["--node-name", "warren@a", "--cluster-nodes", "warren@a:26000,warren@b"]),
      /--cluster-nodes lists this node \(warren@a\) on port 26000, but its cluster port is 25672/,
    );
    assert.equal(
      load(["--node-name", "warren@a", "--cluster-nodes", "warren@a,warren@b"]).settings
        .clusterNodes.length,
      2,
    );
  });
});

describe("cluster secret", () => {
  test("absent by default: the node uses its data directory's cookie file", () => {
    assert.equal(load([]).clusterSecret, undefined);
  });

  test("--cluster-secret or WARREN_CLUSTER_SECRET gives it, flags win, and it stays out of the settings", () => {
    const env = { WARREN_CLUSTER_SECRET: "from-env" };
    assert.deepEqual(load([], env).clusterSecret, {
      value: "from-env",
      source: "WARREN_CLUSTER_SECRET",
    });
    const flagged = load(["--cluster-secret", "from-flag"], env);
    assert.deepEqual(flagged.clusterSecret, { value: "from-flag", source: "--cluster-secret" });
    // Settings are shown by status and the API: the secret must not be among them.
    assert.doesNotMatch(JSON.stringify(flagged.settings), /from-flag/);
  });

  test("an empty secret stops the start", () => {
    assert.throws(() => load(["--cluster-secret", " "]), /--cluster-secret is empty/);
    assert.throws(() => load([], { WARREN_CLUSTER_SECRET: "" }), /WARREN_CLUSTER_SECRET is empty/);
  });
});
