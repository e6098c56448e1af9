import assert from "node:assert/strict";
import { test } from "node:test";
import { foundingDefinitions } from "../../../src/runtime/founding-definitions.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { checkPassword } from "../../../src/vhost/password-hash.js";

const random = (n: number) => Buffer.alloc(n, 7);

test("a fresh node founds a cluster with the default vhost and user, as a fresh single node boots", () => {
  const d = foundingDefinitions(DEFAULT_SETTINGS, undefined, random);
  assert.deepEqual(
    d.vhosts.map((v) => v.name),
    ["/"],
  );
  assert.deepEqual(
    d.users.map((u) => [u.name, u.tags]),
    [["guest", ["administrator"]]],
  );
  assert.ok(checkPassword("guest", d.users[0]!.passwordHash));
  assert.deepEqual(d.permissions, [
    { user: "guest", vhost: "/", configure: ".*", write: ".*", read: ".*" },
  ]);
  assert.deepEqual([d.exchanges, d.queues, d.bindings], [[], [], []]);
});

test("a node with definitions founds with them, without its own kept queue ids", () => {
  const local: DefinitionsSnapshot = {
    format: "warren-definitions-1",
    nextQueueId: 9,
    vhosts: [{ name: "/" }, { name: "prod" }],
    users: [],
    permissions: [],
    exchanges: [],
    queues: [{ vhost: "prod", name: "orders", id: 4, autoDelete: false, arguments: {} }],
    bindings: [],
    unclaimedQueueIds: [2, 3],
  };
  const d = foundingDefinitions(DEFAULT_SETTINGS, local, random);
  assert.equal(d.nextQueueId, 9);
  assert.deepEqual(d.queues, local.queues);
  assert.equal("unclaimedQueueIds" in d, false);
});
