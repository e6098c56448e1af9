#!/usr/bin/env node
// Starts a whole Warren cluster on this machine, for trying it and for tests
// (RabbitMQ's `make start-cluster`). Build first (`npm run cluster` does).
//
//   npm run cluster -- --nodes 3                  warren-1..3 on 5672..5674
//   npm run cluster -- --nodes 3 --base-port 6000 --data-root /tmp/c -- --log-level debug
//
// Node i (from 1) listens on AMQP base+i-1, management base+10000+i-1, Prometheus
// base+10020+i-1 and cluster base+20000+i-1 (5672, 15672, 15692, 25672 for node 1 by
// default, as RabbitMQ's ports), keeps its data in DATA_ROOT/nodeI, and is told all the
// cluster's nodes. All share one secret, kept in DATA_ROOT/.warren-cookie. Each log line
// is printed with its node's name. Ctrl-C (SIGINT) or SIGTERM stops every node with
// SIGTERM, and SIGKILLs what is left after --stop-timeout; a second Ctrl-C kills at once.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const repo = new URL("..", import.meta.url).pathname;
const { loadClusterSecret } = await import(
  new URL("dist/src/runtime/cluster-secret.js", `file://${repo}`)
);

const USAGE = `Usage: npm run cluster -- [options] [-- warren options]

  --nodes N          how many nodes, 1 to 9 (default 3)
  --base-port P      AMQP port of node 1 (default 5672); node i uses P+i-1, management
                     P+10000+i-1, Prometheus P+10020+i-1, cluster P+20000+i-1
  --data-root DIR    node i keeps its data in DIR/nodeI (default ./data/cluster)
  --host H           listen on this address only (default 127.0.0.1 and ::1); nodes are
                     named warren-I@H (warren-I@localhost by default)
  --stop-timeout S   seconds a node has to stop after SIGTERM before SIGKILL (default 10)
  --help             this text
Options after -- go to every node (e.g. -- --log-level debug).
`;

// A node recovering a big message store takes a while; one that takes longer is stuck.
const START_TIMEOUT_MS = 120_000;
const LEVELS = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

function fail(message) {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(64);
}

function intOption(values, name, fallback, min, max) {
  const text = values[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) {
    fail(`--${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        nodes: { type: "string" },
        "base-port": { type: "string" },
        "data-root": { type: "string" },
        host: { type: "string" },
        "stop-timeout": { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      tokens: true,
      strict: true,
    });
  } catch (e) {
    fail(`${e.message}\n\n${USAGE}`);
  }
  const { values, tokens } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const terminator = tokens.find((t) => t.kind === "option-terminator");
  const passThrough = terminator ? argv.slice(terminator.index + 1) : [];
  if (parsed.positionals.length > passThrough.length) {
    fail(`unexpected argument '${parsed.positionals[0]}' (node options go after --)\n\n${USAGE}`);
  }
  const nodes = intOption(values, "nodes", 3, 1, 9);
  // The last node's cluster port must fit below 65536.
  const basePort = intOption(values, "base-port", 5672, 1, 65535 - 20000 - (nodes - 1));
  return {
    nodes,
    basePort,
    dataRoot: resolve(values["data-root"] ?? "./data/cluster"),
    host: values.host,
    stopTimeoutMs: intOption(values, "stop-timeout", 10, 1, 600) * 1000,
    passThrough,
  };
}

/** Every node's name, ports and data dir (RabbitMQ's offsets: +10000, +10020, +20000). */
function plan(options) {
  // A node name's host is where peers reach it: the listen address, unless that is a
  // wildcard or IPv6 (a ':' cannot be in a node name), where localhost reaches it too.
  const host = options.host;
  const nameHost = host && !host.includes(":") && host !== "0.0.0.0" ? host : "localhost";
  return Array.from({ length: options.nodes }, (_, k) => {
    const amqp = options.basePort + k;
    return {
      name: `warren-${k + 1}@${nameHost}`,
      short: `warren-${k + 1}`,
      ports: {
        AMQP: amqp,
        management: amqp + 10000,
        Prometheus: amqp + 10020,
        cluster: amqp + 20000,
      },
      dataDir: join(options.dataRoot, `node${k + 1}`),
    };
  });
}

/** Whether something listens on host:port already ("in use"), or it is free. */
function probe(host, port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", (e) => resolvePort(e.code));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolvePort("free")));
  });
}

async function checkPorts(nodes, host) {
  const hosts = host ? [host] : ["127.0.0.1", "::1"];
  const taken = [];
  for (const node of nodes) {
    for (const [what, port] of Object.entries(node.ports)) {
      for (const h of hosts) {
        const result = await probe(h, port);
        // A machine without IPv6 has no ::1 to be taken on.
        if (result === "free" || (result === "EADDRNOTAVAIL" && !host)) continue;
        taken.push(
          `port ${port} (${what} of ${node.name}) on ${h}: ${result === "EADDRINUSE" ? "in use" : result}`,
        );
        break;
      }
    }
  }
  if (taken.length > 0) {
    fail(
      `cannot start, ports are taken:\n  ${taken.join("\n  ")}\nstop what uses them or choose another --base-port`,
    );
  }
}

function formatLine(short, line) {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return `${short} | ${line}`;
  }
  const time = new Date(entry.time ?? Date.now()).toISOString().slice(11, 23);
  return `${short} | ${time} ${(LEVELS[entry.level] ?? "INFO").padEnd(5)} ${entry.msg ?? line}`;
}

/** Line by line, with the node's name in front; resolves `started` on its "started on" line. */
function follow(stream, short, out, onLine) {
  let buffered = "";
  stream.setEncoding("utf8").on("data", (text) => {
    buffered += text;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      out.write(`${formatLine(short, line)}\n`);
      onLine?.(line);
    }
  });
}

function startNode(node, all, options, secret) {
  mkdirSync(node.dataDir, { recursive: true });
  const args = [
    join(repo, "dist/src/cli/warren.js"),
    "--node-name",
    node.name,
    "--port",
    String(node.ports.AMQP),
    "--mgmt-port",
    String(node.ports.management),
    "--prometheus-port",
    String(node.ports.Prometheus),
    "--cluster-port",
    String(node.ports.cluster),
    "--cluster-nodes",
    all.map((n) => `${n.name}:${n.ports.cluster}`).join(","),
    "--data-dir",
    node.dataDir,
    ...(options.host ? ["--host", options.host] : []),
    ...options.passThrough,
  ];
  // The secret goes by environment, not argv, where `ps` would show it.
  const env = { ...process.env, WARREN_CLUSTER_SECRET: secret };
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  node.child = child;
  node.exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
  node.started = new Promise((started) => {
    follow(child.stdout, node.short, process.stdout, (line) => {
      // A member of a cluster serves clients once its metadata caught up with the cluster's.
      const ready = all.length > 1 ? "has caught up with the cluster's metadata" : " started on ";
      if (line.includes(ready)) started(true);
    });
    node.exited.then(() => started(false));
    setTimeout(() => started(false), START_TIMEOUT_MS).unref();
  });
  follow(child.stderr, node.short, process.stderr);
}

/** How a client on this machine reaches the nodes (a wildcard address is not a destination). */
function urlHost(host) {
  const h = host === undefined || host === "0.0.0.0" || host === "::" ? "localhost" : host;
  return h.includes(":") ? `[${h}]` : h;
}

/** The warrenctl command for a node: -n NAME:PORT as rabbitmqctl -n, or --url for IPv6. */
function ctlHint(node, h) {
  const port = node.ports.management;
  return h.startsWith("[")
    ? `warrenctl --url http://${h}:${port} status`
    : `warrenctl -n ${node.name.split("@")[0]}@${h}:${port} status`;
}

function printTable(nodes, options) {
  const h = urlHost(options.host);
  const rows = nodes.map((n) => [
    n.name,
    `amqp://guest:guest@${h}:${n.ports.AMQP}`,
    `http://${h}:${n.ports.management}`,
    String(n.ports.cluster),
    n.dataDir,
  ]);
  const head = ["node", "AMQP", "management", "cluster port", "data"];
  const widths = head.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  process.stdout.write(
    `\nWarren cluster of ${nodes.length} node${nodes.length === 1 ? "" : "s"} is up (Ctrl-C stops them all):\n\n` +
      `${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n${rows.map(line).join("\n")}\n\n` +
      `${ctlHint(nodes[0], h)}   asks node 1 (on its management port)\n\n`,
  );
}

/** SIGTERM to every running node, SIGKILL to those still there after the timeout. */
async function stopAll(nodes, timeoutMs, reason) {
  const running = nodes.filter(
    (n) => n.child && n.child.exitCode === null && n.child.signalCode === null,
  );
  if (running.length === 0) return;
  process.stdout.write(`cluster: ${reason}: stopping ${running.map((n) => n.name).join(", ")}\n`);
  for (const n of running) n.child.kill("SIGTERM");
  let timer;
  const timeout = new Promise((done) => {
    timer = setTimeout(done, timeoutMs);
  });
  await Promise.race([Promise.all(running.map((n) => n.exited)), timeout]);
  clearTimeout(timer);
  const left = running.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  for (const n of left) {
    process.stdout.write(`cluster: ${n.name} did not stop within ${timeoutMs / 1000} s; SIGKILL\n`);
    n.child.kill("SIGKILL");
  }
  await Promise.all(left.map((n) => n.exited));
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const nodes = plan(options);
  await checkPorts(nodes, options.host);
  mkdirSync(options.dataRoot, { recursive: true });
  let secret;
  try {
    // The same rules as a node's own cookie: created 0600, refused when too open.
    secret = loadClusterSecret(options.dataRoot).value;
  } catch (e) {
    fail(e.message);
  }
  let stopping = false;
  const stop = async (reason, code) => {
    if (stopping) return;
    stopping = true;
    await stopAll(nodes, options.stopTimeoutMs, reason);
    process.stdout.write("cluster: all nodes stopped\n");
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      if (!stopping) return void stop(signal, 0);
      // A second Ctrl-C: the operator does not want to wait.
      for (const n of nodes) n.child?.kill("SIGKILL");
    });
  }
  for (const node of nodes) startNode(node, nodes, options, secret);
  for (const node of nodes) {
    node.exited.then(({ code, signal }) => {
      if (stopping) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const alive = nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
      process.stderr.write(
        `cluster: node ${node.name} ${how}; ${alive.length} of ${nodes.length} nodes still running` +
          ` (its data is in ${node.dataDir})\n`,
      );
      if (alive.length === 0) void stop("every node is gone", 1);
    });
  }
  const started = await Promise.all(nodes.map((n) => n.started));
  if (started.includes(false)) {
    const failed = nodes.filter((_, i) => !started[i]).map((n) => n.name);
    return void stop(`${failed.join(", ")} did not start (see its lines above)`, 1);
  }
  printTable(nodes, options);
}

await main();
