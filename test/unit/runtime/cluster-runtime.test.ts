/**
 * The cluster runtime inside a WarrenNode, in process: a busy cluster port refuses the start
 * with a clear message and leaves nothing open; a one-node list (only itself) is a single node.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLog } from "../../../src/log.js";
import { clusterListenHost, WarrenNode } from "../../../src/runtime/warren-node.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "warren-cluster-runtime-"));
  dirs.push(d);
  return d;
}

test("a cluster port in use refuses the start with the port and what to do, and frees the data dir", async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const dataDir = freshDir();
  const options = {
    settings: {
      ...DEFAULT_SETTINGS,
      nodeName: "warren@a",
      clusterPort: port,
      clusterNodes: [{ name: "warren@b", host: "127.0.0.1", port: 1 }],
    },
    listen: [{ host: "127.0.0.1", port: 0 }],
    dataDir,
    log: silentLog,
    clusterSecret: { value: "secret", source: "--cluster-secret" },
  };
  try {
    const node = new WarrenNode(options);
    await assert.rejects(
      node.start(),
      new RegExp(
        `cannot listen on the cluster port 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\); another process uses it`,
      ),
    );
    // Everything it opened is closed: the same data dir starts again once the port is free.
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const again = new WarrenNode(options);
    await again.start();
    await again.stop();
  } finally {
    blocker.close();
  }
});

test("a node whose list names only itself is a single node: no cluster runtime, clients at once", async () => {
  const node = new WarrenNode({
    settings: {
      ...DEFAULT_SETTINGS,
      nodeName: "warren@a",
      clusterPort: 0,
      clusterNodes: [{ name: "warren@a", host: "127.0.0.1", port: 0 }],
    },
    listen: [{ host: "127.0.0.1", port: 0 }],
    dataDir: freshDir(),
    log: silentLog,
  });
  await node.start();
  try {
    assert.equal(node.cluster, undefined);
    assert.equal(node.broker.pausedReason, undefined);
    assert.ok(node.broker.vhosts.has("/"), "bootstrapped as a single node");
  } finally {
    await node.stop();
  }
});

test("a node with no cluster nodes runs no cluster code and keeps no Raft log", async () => {
  const dataDir = freshDir();
  const node = new WarrenNode({
    settings: DEFAULT_SETTINGS,
    listen: [{ host: "127.0.0.1", port: 0 }],
    dataDir,
    log: silentLog,
  });
  await node.start();
  try {
    assert.equal(node.cluster, undefined);
    assert.equal(node.broker.pausedReason, undefined);
    assert.equal(existsSync(join(dataDir, "raft")), false);
    // Its commands apply at once, as they always did on one node.
    assert.equal(node.broker.submit({ type: "vhost.add", vhost: "v" }) instanceof Promise, false);
  } finally {
    await node.stop();
  }
});

test("the cluster port listens on every interface unless every node is on this machine", () => {
  const at = (...hosts: string[]) => clusterListenHost(hosts.map((host) => ({ host })));
  assert.equal(at("localhost", "127.0.0.1", "::1"), "127.0.0.1");
  assert.equal(at("127.0.0.1", "mq2.example.com"), "0.0.0.0");
  assert.equal(at("10.0.0.1", "10.0.0.2"), "0.0.0.0");
  assert.equal(at("fd00::1", "fd00::2"), "::");
});
