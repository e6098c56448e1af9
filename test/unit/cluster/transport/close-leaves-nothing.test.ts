import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

test("after close() the process exits by itself: no socket, timer or immediate is left behind", () => {
  // The fixture connects three transports (one peer is unreachable, so a redial timer is
  // pending), sends, closes them, and then simply returns.
  const fixture = join(import.meta.dirname, "close-fixture.js");
  const result = spawnSync(process.execPath, [fixture], { encoding: "utf8", timeout: 20_000 });
  assert.equal(result.error, undefined, `the process did not exit: ${result.error?.message}`);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /closed with links up, a send queued and a peer unreachable/);
});
