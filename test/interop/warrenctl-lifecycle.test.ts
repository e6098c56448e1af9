import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startMgmtBroker, warrenctl } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts and stops its own Warren");

test("wait returns once the node answers, given its pid file", { skip }, async () => {
  const node = await startMgmtBroker();
  try {
    const dir = mkdtempSync(join(tmpdir(), "warrenctl-wait-"));
    const pidFile = join(dir, "warren.pid");
    writeFileSync(pidFile, String(node.broker.process!.pid));
    const r = await warrenctl(node.mgmtUrl, ["wait", pidFile, "--timeout", "10"]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /Waiting for pid file/);
    assert.match(r.stdout, /Node warren@\S+ is running/);
  } finally {
    await node.stop();
  }
});

test("wait gives up with exit 75 when the node never answers", { skip }, async () => {
  const r = await warrenctl("http://127.0.0.1:1", ["wait", "--timeout", "1"]);
  assert.equal(r.exitCode, 75);
});

test("stop shuts the node down gracefully and returns when it is gone", { skip }, async () => {
  const node = await startMgmtBroker();
  const exited = new Promise<number | null>((resolve) =>
    node.broker.process!.once("exit", resolve),
  );
  const r = await warrenctl(node.mgmtUrl, ["stop"]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^Stopping and halting node warren@\S+ \.\.\.\n$/);
  assert.equal(await exited, 0, "the node exited cleanly");
  assert.ok(node.broker.logs.some((l) => /stop requested by user 'guest'/.test(String(l.msg))));
  await node.stop();
});
