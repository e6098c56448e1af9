import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Log } from "../../../src/log.js";
import {
  ClusterSecretError,
  COOKIE_FILE,
  loadClusterSecret,
} from "../../../src/runtime/cluster-secret.js";
import { WarrenNode } from "../../../src/runtime/warren-node.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";

// The cluster secret (RabbitMQ's Erlang cookie): .warren-cookie in the data directory,
// created 0600 on first start, refused when others can read it, never replaced.

const root = mkdtempSync(join(tmpdir(), "warren-cookie-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir);
  return dir;
};

describe("the cookie file", () => {
  test("the first start creates it with mode 0600 and 32 random bytes; the next start reads the same", () => {
    const dir = freshDir();
    const first = loadClusterSecret(dir);
    const path = join(dir, COOKIE_FILE);
    assert.equal(first.created, true);
    assert.equal(first.source, path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(Buffer.from(first.value, "base64url").length, 32);
    assert.equal(readFileSync(path, "utf8"), `${first.value}\n`);
    const again = loadClusterSecret(dir);
    assert.deepEqual(again, { value: first.value, source: path, created: false });
    assert.notEqual(loadClusterSecret(freshDir()).value, first.value);
  });

  test("an operator's file is used as it is, without its trailing newline, and never rewritten", () => {
    const dir = freshDir();
    const path = join(dir, COOKIE_FILE);
    writeFileSync(path, "the-cluster-secret\n", { mode: 0o600 });
    chmodSync(path, 0o400);
    assert.equal(loadClusterSecret(dir).value, "the-cluster-secret");
    assert.equal(readFileSync(path, "utf8"), "the-cluster-secret\n");
    assert.equal(statSync(path).mode & 0o777, 0o400);
  });

  test("a file group or others can read is refused as Erlang refuses one, with what to do", () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const dir = freshDir();
      const path = join(dir, COOKIE_FILE);
      writeFileSync(path, "secret\n");
      chmodSync(path, mode);
      assert.throws(
        () => loadClusterSecret(dir),
        (e: Error) =>
          e instanceof ClusterSecretError &&
          e.message ===
            `Cookie file ${path} must be accessible by owner only (its mode is 0${mode.toString(8)}); run chmod 600 ${path} and start again`,
      );
      assert.equal(readFileSync(path, "utf8"), "secret\n", "the file is left as it was");
    }
  });

  test("an empty file is refused, not replaced", () => {
    for (const content of ["", "\n", "  \n\n"]) {
      const dir = freshDir();
      const path = join(dir, COOKIE_FILE);
      writeFileSync(path, content, { mode: 0o600 });
      assert.throws(
        () => loadClusterSecret(dir),
        new RegExp(
          `^Error: the cluster secret file ${path} is empty; Warren does not replace it\\. Copy the cluster's secret into it`,
        ),
      );
      assert.equal(readFileSync(path, "utf8"), content);
    }
  });

  test("something that is not a readable file is refused with the path", () => {
    const dir = freshDir();
    mkdirSync(join(dir, COOKIE_FILE), { mode: 0o700 });
    assert.throws(
      () => loadClusterSecret(dir),
      /the cluster secret file .*\.warren-cookie is not a regular file/,
    );
    const big = freshDir();
    writeFileSync(join(big, COOKIE_FILE), "x".repeat(5000), { mode: 0o600 });
    assert.throws(() => loadClusterSecret(big), /holds 5000 bytes, more than a secret/);
  });

  test("a data directory where the file cannot be created is an error saying so", () => {
    assert.throws(
      () => loadClusterSecret(join(root, "no-such-dir")),
      /cannot create the cluster secret file .*no-such-dir\/\.warren-cookie \(ENOENT\)/,
    );
  });

  test("a secret given by flag or variable is used and no file is made", () => {
    const dir = freshDir();
    const s = loadClusterSecret(dir, { value: "given", source: "--cluster-secret" });
    assert.deepEqual(s, { value: "given", source: "--cluster-secret", created: false });
    assert.equal(existsSync(join(dir, COOKIE_FILE)), false);
  });
});

function capturingLog(lines: string[]): Log {
  const put = (fields: Record<string, unknown>, msg: string) =>
    lines.push(`${msg} ${JSON.stringify(fields)}`);
  return { debug: put, info: put, warn: put, error: put };
}

describe("a node's start", () => {
  test("logs its name, cluster port and where the secret came from, never the secret", async () => {
    const dataDir = freshDir();
    const lines: string[] = [];
    const node = new WarrenNode({
      settings: { ...DEFAULT_SETTINGS, nodeName: "warren@t", clusterPort: 0 },
      listen: [{ host: "127.0.0.1", port: 0 }],
      dataDir,
      log: capturingLog(lines),
    });
    await node.start();
    try {
      const secret = readFileSync(join(dataDir, COOKIE_FILE), "utf8").trim();
      assert.equal(node.clusterSecret?.value, secret);
      assert.ok(
        lines.some((l) =>
          l.startsWith(
            `node warren@t, cluster port 0; cluster secret created in ${join(dataDir, COOKIE_FILE)} (mode 0600)`,
          ),
        ),
        lines.join("\n"),
      );
      assert.equal(lines.filter((l) => l.includes(secret)).length, 0);
      assert.equal(lines.filter((l) => l.includes("cluster nodes configured")).length, 0);
    } finally {
      await node.stop();
    }
  });

  test("with peers configured, it creates the metadata group with them and starts refusing clients", async () => {
    const lines: string[] = [];
    const node = new WarrenNode({
      settings: {
        ...DEFAULT_SETTINGS,
        nodeName: "warren@t",
        clusterPort: 0,
        clusterNodes: [
          { name: "warren@a", host: "127.0.0.1", port: 1 },
          { name: "warren@b", host: "127.0.0.1", port: 2 },
        ],
      },
      listen: [{ host: "127.0.0.1", port: 0 }],
      dataDir: freshDir(),
      log: capturingLog(lines),
      clusterSecret: { value: "s3cr3t-value", source: "--cluster-secret" },
    });
    await node.start();
    try {
      // No peer runs: the node waits for the cluster and admits no client meanwhile.
      assert.match(node.broker.pausedReason ?? "", /warren@t is starting/);
      const status = node.cluster!.status();
      assert.equal(status.starting, true);
      assert.equal(status.pausedReason, undefined);
      assert.deepEqual(
        status.members.map((m) => [m.name, m.self, m.connectedSinceMs === null]),
        [
          ["warren@a", false, true],
          ["warren@b", false, true],
          ["warren@t", true, false],
        ],
      );
      assert.deepEqual(status.metadata.voters, ["warren@a", "warren@b", "warren@t"]);
      assert.equal(status.metadata.leader, null);
      assert.ok(status.clusterPort > 0);
    } finally {
      await node.stop();
    }
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          "cluster nodes configured: warren@a:1, warren@b:2; this node's metadata is replicated",
        ),
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          "created the metadata group with founding members warren@a, warren@b, warren@t",
        ),
      ),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => l.includes("cluster secret from --cluster-secret")));
    assert.equal(lines.filter((l) => l.includes("s3cr3t-value")).length, 0);
  });

  test("a too-open cookie file refuses the start and frees the data directory", async () => {
    const dataDir = freshDir();
    writeFileSync(join(dataDir, COOKIE_FILE), "secret\n", { mode: 0o644 });
    chmodSync(join(dataDir, COOKIE_FILE), 0o644);
    const options = {
      settings: DEFAULT_SETTINGS,
      listen: [{ host: "127.0.0.1", port: 0 }],
      dataDir,
      log: capturingLog([]),
    };
    const refused = new WarrenNode(options);
    await assert.rejects(
      refused.start().then(
        // Started after all: stop it, so the failure is reported rather than hanging the run.
        () => refused.stop().then(() => assert.fail("the node started")),
      ),
      /must be accessible by owner only/,
    );
    // The lock was released: after chmod 600 the same directory starts.
    chmodSync(join(dataDir, COOKIE_FILE), 0o600);
    const node = new WarrenNode(options);
    await node.start();
    assert.equal(node.clusterSecret?.value, "secret");
    await node.stop();
  });
});
