import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Connection, connect, sleep, withTimeout } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";

const skip = process.env.WARREN_TEST_BROKER_URL ? "needs its own Warren" : false;

const BODY_BYTES = 4096;
/** Enough to page out (a queue keeps at most 16 MiB in memory) and then some. */
const BEFORE_FULL = 8000;
/** Published once the disk is (nearly) full: their page-outs hit ENOSPC. */
const WHILE_FULL = 4000;
const TOTAL = BEFORE_FULL + WHILE_FULL;

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** A small file system of its own, so the test can fill it; undefined when mounting is not permitted. */
function mountTmpfs(sizeMb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "warren-small-fs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], {
      stdio: "pipe",
    });
    return dir;
  } catch {
    rmdirSync(dir);
    return undefined;
  }
}

test("a disk that fills while a queue pages out loses no confirmed message and hands no consumer an internal error", {
  skip,
  timeout: 180_000,
}, async (t) => {
  const dir = mountTmpfs(64);
  if (!dir) {
    t.skip(
      "cannot mount a tmpfs here (needs root and mount permission): the disk-full test did not run",
    );
    return;
  }
  let broker: BrokerUnderTest | undefined;
  const connections: Connection[] = [];
  try {
    broker = await startBroker({
      dataDir: dir,
      // Small segments, and a disk alarm only at a truly full disk: the store's
      // own write failure is what must raise it.
      args: ["--segment-bytes", String(1024 * 1024), "--disk-free-limit", "1"],
    });
    const publisher = await connect(broker.url);
    connections.push(publisher);
    let blocked = 0;
    publisher.on("blocked", () => blocked++);
    publisher.on("error", () => {});
    const pch = await publisher.createConfirmChannel();
    await pch.assertQueue("backlog", { durable: false });
    let acked = 0;
    let nacked = 0;
    const publish = (id: number) => {
      const body = Buffer.alloc(BODY_BYTES, id % 251);
      body.writeUInt32LE(id, 0);
      pch.sendToQueue("backlog", body, { messageId: String(id) }, (err: unknown) => {
        if (err) nacked++;
        else acked++;
      });
    };
    for (let id = 0; id < BEFORE_FULL; id++) publish(id);
    await withTimeout(pch.waitForConfirms(), 60_000, "confirms before the disk fills");
    // Fill the file system, leaving less than the page-outs still to come need.
    const filler = join(dir, "filler");
    writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(dir) - 256 * 1024)));
    for (let id = BEFORE_FULL; id < TOTAL; id++) publish(id);
    // The page-outs fail now; the publisher gets blocked (waited for with a bound,
    // so a broker that never blocks still gets to the checks below).
    await withTimeout(
      new Promise<void>((resolve) => publisher.once("blocked", () => resolve())),
      20_000,
      "connection.blocked",
    ).catch(() => {});
    await sleep(1500); // retries keep failing meanwhile
    // Free the space: the held records are written, the alarm clears, publishing resumes.
    rmSync(filler);
    await withTimeout(pch.waitForConfirms(), 60_000, "confirms after space returned");
    assert.equal(acked, TOTAL, "every publish was confirmed");
    assert.equal(nacked, 0, "transient messages are confirmed on their queue: nothing was nacked");

    const consumer = await connect(broker.url);
    connections.push(consumer);
    const closed: string[] = [];
    consumer.on("close", () => closed.push("connection closed"));
    consumer.on("error", (e: Error) => closed.push(`connection error: ${e.message}`));
    const cch = await consumer.createChannel();
    cch.on("error", (e: Error) => closed.push(`channel error: ${e.message}`));
    await cch.prefetch(500);
    const seen = new Set<number>();
    let duplicates = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    await cch.consume("backlog", (m) => {
      if (!m) return;
      const id = m.content.readUInt32LE(0);
      assert.equal(m.content.length, BODY_BYTES);
      if (seen.has(id)) duplicates++;
      seen.add(id);
      cch.ack(m);
      if (seen.size === TOTAL) done();
    });
    await withTimeout(all, 90_000, `draining: ${seen.size} of ${TOTAL} delivered`);
    assert.equal(seen.size, TOTAL, "every confirmed message was delivered");
    assert.equal(duplicates, 0);
    assert.deepEqual(closed, [], "no consumer connection or channel was closed");
    // (Not the whole line: a timestamp may well end in .541Z.)
    const internal = broker.logs.filter(
      (l) =>
        /\b541\b|INTERNAL_ERROR/.test(String(l.msg)) ||
        /INTERNAL_ERROR/.test(JSON.stringify({ ...l, time: undefined })),
    );
    assert.deepEqual(internal, [], "no internal error anywhere in the log");
    // What the operator saw: the store's failure, the disk alarm blocking publishers, both cleared.
    const said = (text: string) => broker!.logs.some((l) => String(l.msg).includes(text));
    assert.ok(said("message store cannot write to disk (ENOSPC"), "the write failure was logged");
    assert.ok(said("disk resource limit alarm set"), "the disk alarm was raised");
    // Cleared (the alarm's text may have turned into a failed segment start meanwhile, when
    // a rotation fell inside the full-disk window: whichever it was, it cleared).
    const lastIndex = (prefix: string) =>
      broker!.logs.map((l) => String(l.msg).startsWith(prefix)).lastIndexOf(true);
    const lastSet = lastIndex("alarm set: ");
    const lastCleared = lastIndex("alarm cleared: ");
    assert.ok(lastCleared > lastSet, "and cleared");
    assert.ok(blocked > 0, "the publisher was blocked while the store could not write");
  } finally {
    // A blocked connection cannot close cleanly: bound each close, then stop the broker.
    for (const c of connections) await withTimeout(c.close(), 2000, "close").catch(() => {});
    if (broker) await withTimeout(broker.stop(), 10_000, "stop").catch(() => broker!.kill());
    try {
      execFileSync("umount", [dir], { stdio: "pipe" });
    } finally {
      rmdirSync(dir);
    }
  }
});
