import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs } from "../../../src/cli/ctl/args.js";
import { resolveTarget } from "../../../src/cli/ctl/client.js";

const target = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveTarget(parseArgs(argv), env);

describe("where warrenctl finds the node", () => {
  test("without flags: the local node's API on 15672 as guest, as rabbitmqctl reaches the local node", () => {
    const t = target(["list_queues"]);
    assert.equal(t.baseUrl, "http://127.0.0.1:15672");
    assert.deepEqual([t.username, t.password], ["guest", "guest"]);
    assert.equal(t.timeoutMs, 60_000);
  });

  test("--node names a remote node as rabbitmqctl -n does: warren@host, host or host:port", () => {
    assert.equal(target(["-n", "warren@mq1"]).baseUrl, "http://mq1:15672");
    assert.equal(target(["--node", "mq2"]).baseUrl, "http://mq2:15672");
    assert.equal(target(["--node", "warren@mq3:16000"]).baseUrl, "http://mq3:16000");
    assert.equal(target(["-n", "mq1"]).label, "mq1");
  });

  test("--url with credentials in it, or flags, or WARRENCTL_* variables; flags win", () => {
    const inUrl = target(["--url", "https://ops:s%3Acret@mq1:15671/"]);
    assert.deepEqual(
      [inUrl.baseUrl, inUrl.username, inUrl.password],
      ["https://mq1:15671", "ops", "s:cret"],
    );
    const env = {
      WARRENCTL_URL: "http://mq9:15672",
      WARRENCTL_USERNAME: "env",
      WARRENCTL_PASSWORD: "pw",
    };
    const fromEnv = target([], env);
    assert.deepEqual([fromEnv.baseUrl, fromEnv.username], ["http://mq9:15672", "env"]);
    const flags = target(["--username", "flag", "--password", "x", "--timeout", "5"], env);
    assert.deepEqual([flags.username, flags.password, flags.timeoutMs], ["flag", "x", 5000]);
  });

  test("a bad URL or timeout is a usage error (64)", () => {
    assert.throws(
      () => target(["--url", "not a url"]),
      (e: { exitCode?: number }) => e.exitCode === 64,
    );
    assert.throws(
      () => target(["--timeout", "0"]),
      (e: { exitCode?: number }) => e.exitCode === 64,
    );
  });
});
