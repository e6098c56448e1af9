import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Log } from "../../../src/log.js";
import type { Message, QueueEntry } from "../../../src/message/message.js";
import { encodeProperties, summarizeProperties } from "../../../src/protocol/content-properties.js";
import type { Consumer, ConsumerSink } from "../../../src/queue/consumer.js";
import { MessageQueue } from "../../../src/queue/message-queue.js";
import { FileMessageStore } from "../../../src/store/file-message-store.js";
import { storageQueueHooks } from "../../../src/vhost/queue-storage.js";
import { type FaultyFs, faultyFs } from "../../support/faulty-fs.js";

const BODY_BYTES = 16 * 1024;
/** Twice the 16 MiB a queue keeps in memory: the second half is paged out. */
const COUNT = 2048;

interface Rig {
  readonly dir: string;
  readonly fs: FaultyFs;
  readonly store: FileMessageStore;
  readonly queue: MessageQueue;
  readonly delivered: number[];
  readonly logs: { level: string; msg: string; fields: Record<string, unknown> }[];
  /** Lets the consumer take this many more messages (it acks each at once). */
  credit(n: number): void;
  dispose(): void;
}

function rig(): Rig {
  const dir = mkdtempSync(join(tmpdir(), "warren-paging-"));
  const fs = faultyFs();
  const store = new FileMessageStore({
    dir,
    fs,
    segmentBytes: 1024 * 1024,
    retryMs: 0,
    scheduleFlush: () => {},
  });
  store.recover(new Set());
  const logs: Rig["logs"] = [];
  const log: Log = {
    debug: () => {},
    info: (fields, msg) => logs.push({ level: "info", msg, fields }),
    warn: (fields, msg) => logs.push({ level: "warn", msg, fields }),
    error: (fields, msg) => logs.push({ level: "error", msg, fields }),
  };
  const hooks = {
    ...storageQueueHooks(store, {
      discarded: () => assert.fail("nothing is discarded"),
      lastConsumerGone: () => {},
      dispatchLater: () => {},
      log,
    }),
    releaseLater: () => assert.fail("nothing is purged"),
    upkeepLater: () => {},
  };
  const queue = new MessageQueue(
    {
      name: "long",
      vhost: "/",
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: new Map(),
    },
    hooks,
    0,
    7,
  );
  const delivered: number[] = [];
  let credit = 0;
  const sink: ConsumerSink = {
    hasCredit: () => credit > 0,
    deliver: (_c: Consumer, entry: QueueEntry, q: MessageQueue) => {
      credit--;
      delivered.push(entry.message.id);
      assert.equal(
        entry.message.body.readUInt32LE(0),
        entry.message.id,
        "the body it was sent with",
      );
      queueMicrotask(() => q.ack(entry, undefined, 0));
    },
    cancelledByQueue: () => {},
  };
  queue.addConsumer(
    {
      tag: "c",
      noAck: false,
      exclusive: false,
      priority: 0,
      prefetchCount: 0,
      arguments: new Map(),
    },
    sink,
    0,
  );
  return {
    dir,
    fs,
    store,
    queue,
    delivered,
    logs,
    credit(n) {
      credit += n;
      // Dispatch yields every 1,000 deliveries (the runtime resumes it next turn).
      for (let before = -1; before !== delivered.length && credit > 0; ) {
        before = delivered.length;
        queue.dispatch(0);
      }
    },
    dispose() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function message(id: number): Message {
  const properties = encodeProperties({});
  const body = Buffer.alloc(BODY_BYTES, id % 251);
  body.writeUInt32LE(id, 0);
  return {
    id,
    exchange: "",
    routingKey: "long",
    properties,
    summary: summarizeProperties(properties),
    body,
    persistent: false,
    arrivedAtMs: 0,
  };
}

/** Publishes ids [from, to), flushing the store every 50 as the runtime does each turn. */
function publish(r: Rig, from: number, to: number): void {
  for (let id = from; id < to; id++) {
    r.queue.enqueue(message(id), 0);
    if (id % 50 === 0) r.store.flush();
  }
  r.store.flush();
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test("ENOSPC while a queue pages out loses no message and throws nothing; the records are written once space returns", () => {
  const r = rig();
  try {
    publish(r, 1, 1200);
    assert.ok(r.queue.ready.inMemory < 1199, "the queue pages out");
    r.fs.writeFault = "ENOSPC";
    publish(r, 1200, COUNT + 1);
    assert.ok(r.store.alarm?.includes("ENOSPC"), "the store reports it");
    assert.ok(r.store.unwrittenBytes > 0, "page-outs are held in memory");
    // Consumers drain part of the queue while the disk is still full: the held
    // records read back from memory.
    r.credit(1500);
    assert.deepEqual(r.delivered, ids(1, 1501));
    r.fs.writeFault = undefined;
    r.store.flush();
    assert.equal(r.store.alarm, undefined, "the next write succeeds and clears it");
    assert.equal(r.store.unwrittenBytes, 0);
    r.credit(COUNT);
    assert.deepEqual(r.delivered, ids(1, COUNT + 1), "every message, in order");
    assert.equal(r.queue.messageCount, 0);
  } finally {
    r.dispose();
  }
});

test("a page-in that fails with EIO keeps the records queued, and delivery resumes on a later tick", () => {
  const r = rig();
  try {
    publish(r, 1, COUNT + 1);
    r.credit(1000);
    const before = r.delivered.length;
    r.fs.readFault = "EIO";
    r.credit(COUNT);
    const stalledAt = r.delivered.length;
    assert.ok(stalledAt >= before, "no exception reached the consumer's dispatch");
    assert.equal(r.queue.messageCount, COUNT - stalledAt, "nothing left the queue unread");
    assert.ok(r.queue.ready.pageInStalled);
    assert.ok(
      r.logs.some(
        (l) =>
          l.level === "warn" && l.msg.includes("could not read paged-out messages of queue 'long'"),
      ),
    );
    r.queue.tick(1); // still failing: nothing changes, nothing throws
    assert.equal(r.delivered.length, stalledAt);
    r.fs.readFault = undefined;
    r.queue.tick(2);
    assert.ok(r.delivered.length > stalledAt, "the tick resumed delivery");
    r.credit(0); // the rest of the deliveries, past dispatch's batch limit
    assert.deepEqual(r.delivered, ids(1, COUNT + 1), "every message, in order");
  } finally {
    r.dispose();
  }
});

test("a paged-out record with a checksum mismatch loses exactly that message, logged and counted; the queue carries on", () => {
  const r = rig();
  try {
    publish(r, 1, COUNT + 1);
    r.store.flush();
    // Find a paged-out message's record on disk and flip a byte in its body.
    const victimId = 1900;
    const seg = r.store.segmentNumbers();
    let flipped = false;
    for (const n of seg) {
      const path = join(r.dir, `${String(n).padStart(12, "0")}.wlog`);
      const fd = openSync(path, "r+");
      const buf = Buffer.alloc(2 * 1024 * 1024);
      const len = readSync(fd, buf, 0, buf.length, 0);
      const marker = Buffer.alloc(8, victimId % 251);
      marker.writeUInt32LE(victimId, 0);
      const at = buf.subarray(0, len).indexOf(marker);
      if (at >= 0) {
        writeSync(fd, Buffer.from([buf[at + 100]! ^ 0xff]), 0, 1, at + 100);
        flipped = true;
      }
      closeSync(fd);
      if (flipped) break;
    }
    assert.ok(flipped, "the victim's record was found");
    r.credit(COUNT);
    assert.deepEqual(
      r.delivered,
      ids(1, COUNT + 1).filter((id) => id !== victimId),
    );
    assert.equal(r.queue.messageCount, 0);
    assert.equal(r.store.damage.lostMessages, 1);
    assert.equal(r.store.damage.corruptRecords, 1);
    const line = r.logs.find(
      (l) => l.level === "error" && l.msg.startsWith(`lost message ${victimId}`),
    );
    assert.ok(line, "logged at error level");
    assert.equal(line.fields.queue, "long");
    assert.equal(line.fields.messageId, victimId);
  } finally {
    r.dispose();
  }
});
