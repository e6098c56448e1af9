import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, rejectsWith } from "../support/amqplib-helpers.js";
import { REPO_ROOT, startBroker } from "../support/broker-process.js";
import { runProgram } from "../support/run-program.js";

const MESSAGES = 2000;
const SEGMENT_BYTES = "65536";
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "warren-startup-"));
  dirs.push(d);
  return d;
}

/** Segment file name -> size. */
function segments(dataDir: string): Map<string, number> {
  const msgs = join(dataDir, "msgs");
  return new Map(readdirSync(msgs).map((f) => [f, statSync(join(msgs, f)).size]));
}

/** Every segment that was there is still there, byte for byte as long. */
function assertNothingDeleted(before: Map<string, number>, dataDir: string): void {
  const now = segments(dataDir);
  for (const [name, size] of before) {
    assert.equal(now.get(name), size, `segment ${name} is still there, whole`);
  }
}

/** Runs Warren until it exits on its own (a refusal); never waits more than 20 s. */
function runWarrenToExit(dataDir: string) {
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
      "--segment-bytes",
      SEGMENT_BYTES,
      "--data-dir",
      dataDir,
    ],
    20_000,
    { ...process.env, WARREN_LOG_LEVEL: "info" },
  );
}

async function messageCount(url: string, queue: string): Promise<number> {
  const conn = await connect(url);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

describe("start-up with missing, damaged or stale definitions", {
  skip: process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false,
}, () => {
  /** A stopped node's data: durable queue keep.q with MESSAGES persistent messages. */
  let original: string;
  let originalSegments: Map<string, number>;
  /** definitions.json as the node left it (it names keep.q). */
  let goodDefinitions: string;

  before(async () => {
    original = tempDir();
    const broker = await startBroker({
      dataDir: original,
      args: ["--segment-bytes", SEGMENT_BYTES],
    });
    const conn = await connect(broker.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("keep.q", { durable: true });
    const body = Buffer.alloc(200, "m");
    for (let i = 0; i < MESSAGES; i++) ch.sendToQueue("keep.q", body, { persistent: true });
    await ch.waitForConfirms();
    // One more durable change, so the backup (the version before the last) names keep.q.
    await ch.assertExchange("later.x", "fanout", { durable: true });
    await conn.close();
    await broker.stop();
    originalSegments = segments(original);
    assert.ok(originalSegments.size > 3, `several segments: ${[...originalSegments.keys()]}`);
    goodDefinitions = readFileSync(join(original, "definitions.json"), "utf8");
  });

  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function copyOfOriginal(): string {
    const d = tempDir();
    cpSync(original, d, { recursive: true });
    return d;
  }

  test("with no definitions file but persistent messages the node refuses to start and deletes nothing", async () => {
    const dir = copyOfOriginal();
    unlinkSync(join(dir, "definitions.json"));
    rmSync(join(dir, "definitions.json.bak"), { force: true });
    const run = await runWarrenToExit(dir);
    assert.notEqual(run.exitCode, 0, `refused: ${run.stdout}`);
    // The operator running `npm start` sees it on stderr, in words.
    assert.match(run.stderr, /could not start/);
    assert.match(run.stderr, new RegExp(`${MESSAGES} persistent messages`));
    assert.match(run.stderr, /segment files/);
    assert.match(run.stderr, /definitions\.json\.bak/);
    assert.match(run.stderr, /would delete them/);
    assert.match(run.stderr, /restore definitions\.json/);
    assert.match(run.stderr, /move .*msgs away/);
    // And in the log, at error level.
    const line = run.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => l.msg.startsWith("could not start"));
    assert.ok(line && line.level >= 50, `an error line: ${run.stdout}`);
    assertNothingDeleted(originalSegments, dir);
    assert.ok(!existsSync(join(dir, "definitions.json")), "no fresh definitions were written");
    // The way out the message names works: with the definitions back, everything is there.
    writeFileSync(join(dir, "definitions.json"), goodDefinitions);
    const broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", SEGMENT_BYTES] });
    try {
      assert.equal(await messageCount(broker.url, "keep.q"), MESSAGES);
    } finally {
      await broker.stop();
    }
  });

  test("a truncated definitions.json: the node starts from the backup, says so, and loses no message", async () => {
    const dir = copyOfOriginal();
    const path = join(dir, "definitions.json");
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", SEGMENT_BYTES] });
    try {
      const line = await broker.waitForLog(
        (l) => typeof l.msg === "string" && l.msg.includes("could not be used"),
      );
      assert.equal(line.level, 50, "logged at error level");
      assert.match(String(line.msg), /definitions\.json/);
      assert.match(String(line.msg), /not valid JSON/);
      assert.match(String(line.msg), /backup .*definitions\.json\.bak written at/);
      assert.match(String(line.msg), /may be missing/);
      assert.equal(await messageCount(broker.url, "keep.q"), MESSAGES);
      assert.ok(existsSync(join(dir, "definitions.json.damaged")), "the damaged file is kept");
    } finally {
      await broker.stop();
    }
  });

  test("stale definitions (from before the queue) keep that queue's messages until the right ones return", async () => {
    const dir = copyOfOriginal();
    const good = JSON.parse(goodDefinitions) as {
      queues: { id: number }[];
      nextQueueId: number;
      exchanges: unknown[];
    };
    const queueId = good.queues[0]!.id;
    // What definitions.json held before keep.q was declared.
    const stale = { ...good, queues: [], exchanges: [], nextQueueId: queueId };
    writeFileSync(join(dir, "definitions.json"), JSON.stringify(stale));
    rmSync(join(dir, "definitions.json.bak"), { force: true });
    for (let start = 0; start < 2; start++) {
      // Twice: the kept queue ids are remembered, so a second start keeps them too.
      const broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", SEGMENT_BYTES] });
      try {
        const line = await broker.waitForLog(
          (l) => typeof l.msg === "string" && l.msg.startsWith("kept "),
        );
        assert.equal(line.level, 50);
        assert.match(String(line.msg), new RegExp(`kept ${MESSAGES} persistent messages`));
        assert.match(String(line.msg), /--discard-unclaimed-messages/);
        const conn = await connect(broker.url);
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        await rejectsWith(ch.checkQueue("keep.q"), 404);
        await conn.close().catch(() => {});
        // A queue declared now must not take the forgotten queue's id.
        const conn2 = await connect(broker.url);
        const ch2 = await conn2.createChannel();
        await ch2.assertQueue(`new.q${start}`, { durable: true });
        await conn2.close();
      } finally {
        await broker.stop();
      }
      assertNothingDeleted(originalSegments, dir);
      const saved = JSON.parse(readFileSync(join(dir, "definitions.json"), "utf8"));
      assert.deepEqual(saved.unclaimedQueueIds, [queueId]);
      assert.ok(
        saved.queues.every((q: { id: number }) => q.id > queueId),
        "ids never reused",
      );
    }
    // The right definitions come back: every message is there.
    writeFileSync(join(dir, "definitions.json"), goodDefinitions);
    const broker = await startBroker({ dataDir: dir, args: ["--segment-bytes", SEGMENT_BYTES] });
    try {
      assert.equal(await messageCount(broker.url, "keep.q"), MESSAGES);
    } finally {
      await broker.stop();
    }
  });

  test("--discard-unclaimed-messages drops what no definition claims, on the operator's word", async () => {
    const dir = copyOfOriginal();
    unlinkSync(join(dir, "definitions.json"));
    rmSync(join(dir, "definitions.json.bak"), { force: true });
    const broker = await startBroker({
      dataDir: dir,
      args: ["--segment-bytes", SEGMENT_BYTES, "--discard-unclaimed-messages"],
    });
    try {
      const line = await broker.waitForLog(
        (l) => typeof l.msg === "string" && l.msg.startsWith("discarding "),
      );
      assert.match(String(line.msg), new RegExp(`${MESSAGES} persistent messages`));
    } finally {
      await broker.stop();
    }
    const left = [...segments(dir).keys()].filter((s) => originalSegments.has(s));
    assert.deepEqual(left, [], "the old segments were reclaimed");
  });
});
