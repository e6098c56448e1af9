import assert from "node:assert/strict";
import { test } from "node:test";
import { MetadataUnavailableError } from "../../../../src/cluster/metadata/index.js";
import type { HttpError } from "../../../../src/mgmt/http/http-types.js";
import { memoryBroker, requester, testContext } from "../../../support/mgmt-context.js";

const TEXT =
  "the metadata store is unavailable: no leader of the metadata group took the change within 10000 ms (no leader known); the change was not made";

/** A node whose metadata group has no leader: every change is refused after the bound. */
function leaderlessNode() {
  const broker = memoryBroker();
  broker.useReplicatedCommands({
    submit: () => Promise.reject(new MetadataUnavailableError("noLeader", TEXT)),
  });
  const call = requester(testContext(broker));
  // What the HTTP listener sends for an HttpError the handlers throw.
  return (method: string, path: string, body?: unknown) =>
    call(method, path, body).catch((e: HttpError) => e.toResponse());
}

test("the management API answers a change the metadata group could not take with 503 and the reason, for operator and topology changes", async () => {
  const request = leaderlessNode();
  for (const [path, body] of [
    ["/api/vhosts/v2", {}],
    ["/api/queues/%2F/q", { durable: true }],
    ["/api/exchanges/%2F/x", { type: "direct", durable: true }],
    ["/api/policies/%2F/p", { pattern: ".*", definition: { "max-length": 1 } }],
  ] as const) {
    const response = await request("PUT", path, body);
    assert.equal(response.status, 503, `${path}: ${JSON.stringify(response.body)}`);
    assert.match(JSON.stringify(response.body), /the change was not made/, path);
  }
});
