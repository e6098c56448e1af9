import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect } from "../support/amqplib-helpers.js";
import { REPO_ROOT, startBroker } from "../support/broker-process.js";
import { runProgram } from "../support/run-program.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A second Warren on the same data directory (other ports), run until it exits; at most 20 s. */
function secondInstance(dataDir: string) {
  return runProgram(
    process.execPath,
    [
      join(REPO_ROOT, "dist/src/cli/warren.js"),
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--mgmt-port",
      "0",
      "--prometheus-port",
      "0",
      "--data-dir",
      dataDir,
    ],
    20_000,
    { ...process.env, WARREN_LOG_LEVEL: "info" },
  );
}

/** Publishes and consumes one persistent message on a durable queue: the node works. */
async function roundTrip(url: string, queue: string): Promise<void> {
  const conn = await connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    ch.sendToQueue(queue, Buffer.from("still here"), { persistent: true });
    await ch.waitForConfirms();
    const got = await ch.get(queue, { noAck: true });
    assert.ok(got, "the message came back");
    assert.equal(got.content.toString(), "still here");
  } finally {
    await conn.close();
  }
}

describe("one data directory, one node", {
  skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
}, () => {
  test("a second instance on the same data directory is refused, naming the directory and the holder", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "warren-lock-"));
    dirs.push(dataDir);
    const first = await startBroker({ dataDir });
    try {
      const run = await secondInstance(dataDir);
      assert.notEqual(run.exitCode, 0, `refused: ${run.stdout}`);
      assert.match(run.stderr, /could not start/);
      assert.match(run.stderr, new RegExp(`data directory ${dataDir} is in use`));
      assert.match(run.stderr, new RegExp(`pid ${first.process!.pid}`));
      assert.match(run.stderr, new RegExp(`AMQP 127\\.0\\.0\\.1:${first.port}`));
      assert.match(run.stderr, /--data-dir/);
      // The refused process read nothing it could damage: the first keeps working.
      await roundTrip(first.url, "first.q");
      const owner = JSON.parse(readFileSync(join(dataDir, "warren.lock.json"), "utf8"));
      assert.equal(owner.pid, first.process!.pid, "the owner file still names the first");
    } finally {
      await first.stop();
    }
  });

  test("after kill -9 of the holder a new node starts at once, with no cleanup", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "warren-lock-"));
    dirs.push(dataDir);
    const first = await startBroker({ dataDir });
    await roundTrip(first.url, "kept.q");
    await first.kill();
    assert.ok(existsSync(join(dataDir, "warren.lock.json")), "kill -9 left the owner file behind");
    const second = await startBroker({ dataDir });
    try {
      await roundTrip(second.url, "kept.q");
      const owner = JSON.parse(readFileSync(join(dataDir, "warren.lock.json"), "utf8"));
      assert.equal(owner.pid, second.process!.pid);
    } finally {
      await second.stop();
    }
  });
});
