import assert from "node:assert/strict";
import { test } from "node:test";
import { StallHistory } from "../../../src/doctor/stalls.js";
import type { Log } from "../../../src/log.js";
import { silentLog } from "../../../src/log.js";
import { StallWatch } from "../../../src/runtime/stall-watch.js";

function watch() {
  let now = 0;
  let cpu = 0;
  let starved = false;
  const history = new StallHistory();
  const warnings: string[] = [];
  const log: Log = { ...silentLog, warn: (_f: unknown, msg: string) => warnings.push(msg) } as Log;
  const w = new StallWatch(
    history,
    log,
    () => now,
    () => 1_000_000 + now,
    () => cpu,
  );
  return {
    w,
    history,
    warnings,
    /** Time passes; the process runs throughout unless it is starved. */
    advance: (ms: number) => {
      now += ms;
      if (!starved) cpu += ms;
    },
    starve: () => {
      starved = true;
    },
  };
}

test("a late probe is a stall, blamed on the longest task timed since the last probe", () => {
  const { w, history, warnings, advance } = watch();
  w.probe();
  w.timed(
    () => "a short task",
    () => advance(5),
  );
  w.timed(
    () => "purging queue 'big'",
    () => advance(1500),
  );
  advance(20);
  w.probe();
  const [stall] = history.since(0);
  assert.ok(stall, "a stall was recorded");
  assert.ok(stall.durationMs >= 1400 && stall.durationMs <= 1525, `duration ${stall.durationMs}`);
  assert.match(stall.during, /^purging queue 'big' \(1500 ms\)$/);
  assert.match(warnings[0]!, /event loop stalled for \d+ ms: purging queue 'big'/);
  assert.equal(history.worstMs, stall.durationMs);
});

test("a probe on time records nothing; a pause no task explains is said to be so", () => {
  const { w, history, advance } = watch();
  w.probe();
  advance(20);
  w.probe();
  assert.equal(history.count, 0);
  w.timed(
    () => "a short task",
    () => advance(10),
  );
  advance(700);
  w.probe();
  assert.match(history.since(0)[0]!.during, /^no broker task ran that long/);
});

test("a pause in which the process hardly got the CPU is put down to the machine, even during a long task", () => {
  const { w, history, advance, starve } = watch();
  w.probe();
  starve();
  w.timed(
    () => "purging queue 'big'",
    () => advance(900),
  );
  w.probe();
  assert.match(
    history.since(0)[0]!.during,
    /^starved of CPU: the process got 0 ms of CPU in \d+ ms .*; the longest task was purging queue 'big'$/,
  );
});
