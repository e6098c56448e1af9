import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FLOW_VISIBLE_MS, PublisherFlow } from "../../../src/connection/publisher-flow.js";
import { type QueueLoad, QueuePressure } from "../../../src/queue/queue-pressure.js";

/** A queue whose backlog the test sets: 0 (caught up) or 1 GiB of 1 MiB messages (far behind). */
class FakeLoad implements QueueLoad {
  deleted = false;
  lazy = false;
  consumerCount = 1;
  messageCount = 0;
  get readyBytes(): number {
    return this.messageCount * 1024 * 1024;
  }
}

function queue(nowMs: number) {
  const load = new FakeLoad();
  const pressure = new QueuePressure(load);
  pressure.delivered(nowMs);
  return {
    load,
    pressure,
    behind() {
      load.messageCount = 1024;
    },
    caughtUp(now: number) {
      load.messageCount = 0;
      pressure.delivered(now);
      pressure.settle(now);
    },
  };
}

function flow(consumed: QueuePressure[] = []) {
  const releases: { nowMs: number; heldMs: number }[] = [];
  const f = new PublisherFlow({
    consumesFrom: (p) => consumed.includes(p),
    released: (nowMs, heldMs) => releases.push({ nowMs, heldMs }),
  });
  return { f, releases };
}

describe("publisher flow control of one connection", () => {
  test("a publish to a queue that falls behind puts the connection in flow, once", () => {
    const q = queue(0);
    const { f } = flow();
    assert.equal(f.published(q.pressure, 10), false, "a queue keeping up holds nobody");
    assert.equal(f.state(10), "running");
    q.behind();
    assert.equal(f.published(q.pressure, 20), true);
    assert.equal(f.published(q.pressure, 21), false, "already in flow");
    assert.equal(f.held, true);
    assert.equal(f.state(21), "flow");
  });

  test("the queue catching up releases it; 'flow' stays visible for 5 s after", () => {
    const q = queue(0);
    const { f, releases } = flow();
    q.behind();
    f.published(q.pressure, 100);
    q.caughtUp(350);
    assert.deepEqual(releases, [{ nowMs: 350, heldMs: 250 }]);
    assert.equal(f.held, false);
    assert.equal(f.state(350 + FLOW_VISIBLE_MS - 1), "flow");
    assert.equal(f.state(350 + FLOW_VISIBLE_MS), "running");
  });

  test("held by several queues, it goes on only when the last lets go", () => {
    const qs = [queue(0), queue(0), queue(0)];
    const { f, releases } = flow();
    for (const q of qs) q.behind();
    assert.equal(f.published(qs[0]!.pressure, 10), true);
    for (const q of qs.slice(1)) assert.equal(f.published(q.pressure, 10), false);
    assert.equal(f.holderCount, 3);
    qs[0]!.caughtUp(20);
    qs[1]!.caughtUp(30);
    assert.equal(f.held, true);
    assert.deepEqual(releases, []);
    qs[2]!.caughtUp(40);
    assert.equal(f.held, false);
    assert.equal(releases.length, 1);
  });

  test("the tick lets go of a deleted queue, one whose consumers left, and one whose consumers stalled", () => {
    const deleted = queue(0);
    const abandoned = queue(0);
    const stalled = queue(0);
    const { f, releases } = flow();
    for (const q of [deleted, abandoned, stalled]) {
      q.behind();
      f.published(q.pressure, 10);
    }
    deleted.load.deleted = true;
    abandoned.load.consumerCount = 0;
    f.review(200);
    assert.equal(f.holderCount, 1, "only the stalled one still holds at 200 ms");
    // Its consumers keep taking nothing: after stallMs it is a store and lets go.
    f.review(stalled.pressure.marks.stallMs + 1);
    assert.equal(f.held, false);
    assert.equal(releases.length, 1);
  });

  test("a queue this connection consumes from never holds it (its acks arrive on this socket)", () => {
    const own = queue(0);
    const { f } = flow([own.pressure]);
    own.behind();
    assert.equal(f.published(own.pressure, 10), false);
    assert.equal(f.held, false);
  });

  test("after dispose the queues no longer tell the connection anything", () => {
    const q = queue(0);
    const { f, releases } = flow();
    q.behind();
    f.published(q.pressure, 10);
    f.dispose();
    assert.equal(q.pressure.watched, false);
    q.caughtUp(20);
    assert.deepEqual(releases, []);
  });
});
