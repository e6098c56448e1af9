import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DEFAULT_FLOW_MARKS,
  ENTRY_WEIGHT_BYTES,
  type PressureWatcher,
  type QueueLoad,
  QueuePressure,
} from "../../../src/queue/queue-pressure.js";

/** A queue's load as the test sets it: messages of `size` bytes. */
class FakeLoad implements QueueLoad {
  deleted = false;
  lazy = false;
  consumerCount = 1;
  messageCount = 0;
  constructor(readonly size: number) {}
  get readyBytes(): number {
    return this.messageCount * this.size;
  }
}

/** Messages of this size that make the given weight. */
const messagesFor = (weight: number, size: number) =>
  Math.ceil(weight / (size + ENTRY_WEIGHT_BYTES));

const MARKS = DEFAULT_FLOW_MARKS;

function setup(size = 16) {
  const load = new FakeLoad(size);
  const pressure = new QueuePressure(load);
  return { load, pressure };
}

describe("queue pressure (publisher flow control)", () => {
  test("a queue with no consumers never holds its publishers, however long it grows", () => {
    const { load, pressure } = setup();
    load.consumerCount = 0;
    load.messageCount = 10_000_000;
    assert.equal(pressure.holdsPublisher(1000), false);
    assert.equal(pressure.releases(1000), true);
  });

  test("a queue whose consumers take messages holds publishers once half its in-memory budget is used", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    const hold = messagesFor(MARKS.holdWeight, 16);
    assert.ok(hold > 20_000 && hold < 30_000, `16 B messages held at ${hold}`);
    load.messageCount = hold - 1;
    assert.equal(pressure.holdsPublisher(1000), false);
    load.messageCount = hold;
    assert.equal(pressure.holdsPublisher(1000), true);
    // 1 KiB messages weigh more: fewer of them.
    const big = setup(1024);
    big.pressure.delivered(1000);
    big.load.messageCount = messagesFor(MARKS.holdWeight, 1024);
    assert.equal(big.pressure.holdsPublisher(1000), true);
    assert.ok(big.load.messageCount < 7000);
  });

  test("held publishers go on only once the consumers took the release weight (hysteresis)", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    load.messageCount = messagesFor(MARKS.holdWeight, 16);
    assert.equal(pressure.holdsPublisher(1000), true);
    const step = messagesFor(MARKS.releaseWeight, 16);
    load.messageCount -= step - 10;
    pressure.delivered(1100);
    assert.equal(pressure.releases(1100), false, "not yet: the consumers took less");
    load.messageCount -= 10;
    assert.equal(pressure.releases(1100), true);
    // Between the two levels publishing goes on without holding: no flicker.
    load.messageCount += step / 2;
    assert.equal(pressure.holdsPublisher(1100), false);
  });

  test("consumers that took nothing for stallMs hold nobody: the queue is then a store", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    load.messageCount = messagesFor(MARKS.holdWeight, 16) * 4;
    assert.equal(pressure.holdsPublisher(1000 + MARKS.stallMs), true);
    assert.equal(pressure.releases(1000 + MARKS.stallMs), false);
    assert.equal(pressure.releases(1001 + MARKS.stallMs), true, "stalled consumers release");
    assert.equal(pressure.holdsPublisher(1001 + MARKS.stallMs), false);
    // Once they take a message again, it holds again.
    pressure.delivered(5000);
    assert.equal(pressure.holdsPublisher(5000), true);
  });

  test("a lazy queue (x-queue-mode lazy) is meant to grow: it never holds its publishers", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    load.lazy = true;
    load.messageCount = messagesFor(MARKS.holdWeight, 16) * 10;
    assert.equal(pressure.holdsPublisher(1000), false);
    assert.equal(pressure.releases(1000), true);
  });

  test("a deleted queue, or one whose consumers left, lets its publishers go", () => {
    for (const change of [
      (l: FakeLoad) => {
        l.deleted = true;
      },
      (l: FakeLoad) => {
        l.consumerCount = 0;
      },
    ]) {
      const { load, pressure } = setup(16);
      pressure.delivered(1000);
      load.messageCount = messagesFor(MARKS.holdWeight, 16);
      assert.equal(pressure.holdsPublisher(1000), true);
      change(load);
      assert.equal(pressure.releases(1000), true);
    }
  });

  test("a backlog from before is kept, not drained first: publishers refill what consumers took", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    // Consumers come back to a queue that grew to 40 times the hold level meanwhile.
    const start = messagesFor(MARKS.holdWeight, 16) * 40;
    load.messageCount = start;
    assert.equal(pressure.holdsPublisher(1000), true);
    const step = messagesFor(MARKS.releaseWeight, 16);
    load.messageCount = start - step;
    assert.equal(pressure.releases(1000), true, "released after one step, not after draining");
    // The publisher refills up to where it was held, and is held there again.
    load.messageCount = start - 1;
    assert.equal(pressure.holdsPublisher(1000), false);
    load.messageCount = start;
    assert.equal(pressure.holdsPublisher(1000), true);
  });

  test("the hold level follows the backlog down when the consumers outpace the publishers", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    const high = messagesFor(MARKS.holdWeight, 16) * 40;
    load.messageCount = high;
    assert.equal(pressure.holdsPublisher(1000), true);
    // The consumers outran the publisher: the backlog fell far below where it was held.
    const lower = messagesFor(MARKS.holdWeight, 16) * 10;
    load.messageCount = lower;
    assert.equal(pressure.holdsPublisher(1000), false);
    // Growing from there, it holds a release step above it, not back at the old level.
    load.messageCount = lower + messagesFor(MARKS.releaseWeight, 16);
    assert.equal(pressure.holdsPublisher(1000), true);
  });

  test("a publisher twice as fast as its consumers is paced without flapping: a few holds a second, depth within one step", () => {
    // 1 ms steps for 10 s: the publisher offers 20 messages a step while not held, the
    // consumers take 10 (16 B messages).
    const { load, pressure } = setup(16);
    let held = false;
    let holds = 0;
    let deepest = 0;
    let shallowestAfterFirstHold = Number.POSITIVE_INFINITY;
    for (let now = 0; now < 10_000; now++) {
      if (!held) {
        for (let i = 0; i < 20 && !held; i++) {
          load.messageCount++;
          if (pressure.holdsPublisher(now)) {
            held = true;
            holds++;
          }
        }
      }
      load.messageCount = Math.max(0, load.messageCount - 10);
      pressure.delivered(now);
      if (held && pressure.releases(now)) held = false;
      deepest = Math.max(deepest, load.messageCount);
      if (holds > 0)
        shallowestAfterFirstHold = Math.min(shallowestAfterFirstHold, load.messageCount);
    }
    const hold = messagesFor(MARKS.holdWeight, 16);
    const step = messagesFor(MARKS.releaseWeight, 16);
    // 2.7 s to fill to the hold level (net +10 a ms), then cycles of 330 ms held (the
    // consumers take one step) and 330 ms refilling: about a dozen holds, not thousands.
    assert.ok(holds >= 8 && holds <= 20, `holds in 10 s: ${holds}`);
    assert.ok(deepest <= hold + 20, `deepest ${deepest}, hold level ${hold}`);
    assert.ok(
      shallowestAfterFirstHold >= hold - step - 20,
      `shallowest ${shallowestAfterFirstHold}`,
    );
  });

  test("settle tells each watcher once, and only when the queue lets go", () => {
    const { load, pressure } = setup(16);
    pressure.delivered(1000);
    load.messageCount = messagesFor(MARKS.holdWeight, 16);
    assert.equal(pressure.holdsPublisher(1000), true);
    const heard: number[] = [];
    const watcher: PressureWatcher = { pressureReleased: (_p, now) => heard.push(now) };
    pressure.watch(watcher);
    pressure.settle(1001);
    assert.deepEqual(heard, []);
    assert.equal(pressure.watched, true);
    load.messageCount = 0;
    pressure.settle(1002);
    pressure.settle(1003);
    assert.deepEqual(heard, [1002]);
    assert.equal(pressure.watched, false);
  });
});
