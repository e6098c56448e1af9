import assert from "node:assert/strict";
import { test } from "node:test";
import type { ColdRecord } from "../../../src/message/cold-index.js";
import type { Message, QueueEntry } from "../../../src/message/message.js";
import { ENTRY_OVERHEAD_BYTES, MemoryBudget } from "../../../src/queue/memory-budget.js";
import { type Pager, ReadyList } from "../../../src/queue/ready-list.js";
import { testBroker } from "../../support/in-process-client.js";

const message = (id: number): Message =>
  ({ id, body: Buffer.alloc(100), properties: Buffer.alloc(2) }) as unknown as Message;
const entry = (id: number): QueueEntry => ({
  seq: id,
  message: message(id),
  deliveryCount: 0,
  redelivered: false,
  expiresAtMs: Number.POSITIVE_INFINITY,
  ref: undefined,
});
const CHARGE = 100 + 2 + ENTRY_OVERHEAD_BYTES;

/** A pager that keeps paged-out entries in a map, as the store would on disk. */
function memoryPager(): Pager & { pagedOut: number } {
  const stored = new Map<number, QueueEntry>();
  return {
    pagedOut: 0,
    pageOut(e): ColdRecord {
      this.pagedOut++;
      stored.set(e.seq, e);
      return {
        msgId: e.seq,
        segment: 1,
        offset: e.seq,
        length: 1,
        bodyBytes: e.message.body.length,
        deliveryCount: 0,
        expiresAtMs: e.expiresAtMs,
        persistent: false,
        arrivedAtMs: 0,
        priority: 0,
      };
    },
    pageIn: (records) => ({
      entries: records.map((r) => stored.get(r.msgId)!),
      consumed: records.length,
    }),
  };
}

test("once the node's budget is spent, every queue pages new entries out, though each is under its own share", () => {
  const budget = new MemoryBudget(300 * CHARGE);
  const pagers = [memoryPager(), memoryPager(), memoryPager()];
  const lists = pagers.map((p) => new ReadyList(p, 16 * 1024 * 1024, budget));
  let id = 1;
  for (let round = 0; round < 200; round++) for (const l of lists) l.push(entry(id++));
  // 300 entries fit the budget; each list keeps at least 64 in memory; the rest is cold.
  for (const l of lists) {
    assert.equal(l.length, 200);
    assert.ok(l.inMemory >= 64 && l.inMemory <= 101, `in memory: ${l.inMemory}`);
  }
  assert.ok(budget.usedBytes <= 303 * CHARGE, `charged ${budget.usedBytes}`);
  assert.equal(
    pagers.reduce((n, p) => n + p.pagedOut, 0),
    600 - lists.reduce((n, l) => n + l.inMemory, 0),
  );
  // Everything comes back in order, and the budget is credited as entries leave.
  for (const l of lists) {
    let last = 0;
    for (let e = l.shift(); e; e = l.shift()) {
      assert.ok(e.seq > last);
      last = e.seq;
    }
  }
  assert.equal(budget.usedBytes, 0);
});

test("without a node budget a queue keeps its own share in memory", () => {
  const pager = memoryPager();
  const list = new ReadyList(pager, 16 * 1024 * 1024);
  for (let i = 1; i <= 1000; i++) list.push(entry(i));
  assert.equal(list.inMemory, 1000);
  assert.equal(pager.pagedOut, 0);
});

test("ready, parked and unacknowledged entries are charged to the broker's budget and credited when settled", () => {
  const broker = testBroker();
  const vhost = broker.vhosts.get("/")!;
  const q = vhost.declareQueue(
    {
      name: "q",
      vhost: "/",
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: new Map(),
    },
    {},
    0,
  );
  const m = {
    ...message(broker.newMessageId()),
    exchange: "",
    routingKey: "q",
    persistent: false,
    arrivedAtMs: 0,
    summary: { priority: 0 },
  } as unknown as Message;
  broker.enqueue([q], m, 0);
  assert.equal(broker.memory.usedBytes, CHARGE);
  const got = q.fetch(false, 0)!;
  assert.equal(broker.memory.usedBytes, CHARGE, "an unacknowledged delivery stays charged");
  q.ack(got, undefined, 0);
  assert.equal(broker.memory.usedBytes, 0);
});
