import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { TestPki } from "../../../support/tls-certs.js";
import { createTestPki } from "../../../support/tls-certs.js";
import { nodeTls, rogueSigner } from "./node-certificates.js";
import type { LiveNode } from "./transport-fixtures.js";
import { connectedMesh, heartbeat, meshOf, startNode, waitFor } from "./transport-fixtures.js";

let pki: TestPki;
const open: LiveNode[] = [];
before(() => {
  pki = createTestPki();
});
after(async () => {
  await Promise.all(open.map((n) => n.transport.close()));
  pki.remove();
});

async function tlsNode(id: string, signer?: { cert: string; key: string }): Promise<LiveNode> {
  const started = await startNode(id, { tls: nodeTls(pki, id, signer) });
  open.push(started);
  return started;
}

test("over TLS, three nodes with certificates from the cluster's CA exchange messages both ways", async () => {
  const nodes = [await tlsNode("warren@a"), await tlsNode("warren@b"), await tlsNode("warren@c")];
  meshOf(nodes);
  await waitFor("every TLS link up", () => connectedMesh(nodes));
  for (const from of nodes) {
    for (const to of nodes) {
      if (from !== to)
        from.transport.send(to.id, [
          heartbeat("meta", from.id, to.id, 5),
          heartbeat("q1", from.id, to.id, 6),
        ]);
    }
  }
  await waitFor("delivery", () => nodes.every((n) => n.received.length === 4));
  for (const n of nodes) {
    assert.deepEqual(
      new Set(n.received.map((m) => m.message.from)),
      new Set(nodes.filter((o) => o !== n).map((o) => o.id)),
    );
  }
});

test("over TLS, a node whose certificate another CA signed is refused and logged, even with the right secret", async () => {
  const good = await tlsNode("warren@d");
  const rogue = await tlsNode("warren@e", rogueSigner(pki));
  meshOf([good, rogue]);
  await waitFor(
    "the refusal is logged",
    () =>
      good.log.matching(/TLS handshake failed on cluster connection from 127\.0\.0\.1:\d+/)
        .length >= 1,
  );
  await waitFor(
    "the rogue's own dial fails too",
    () => rogue.transport.stats()[0]!.failedDials >= 1,
  );
  assert.equal(good.transport.isConnected(rogue.id), false);
  assert.equal(rogue.transport.isConnected(good.id), false);
  good.transport.send(rogue.id, [heartbeat("g", good.id, rogue.id, 1)]);
  assert.equal(rogue.received.length, 0);
  // good cannot dial rogue either: rogue's certificate does not chain to good's CA.
  assert.ok(good.log.matching(/cannot reach cluster peer warren@e/).length >= 1);
});

test("a plain TCP peer cannot talk to a TLS node", async () => {
  const secure = await tlsNode("warren@f");
  const plain = await startNode("warren@g");
  open.push(plain);
  meshOf([secure, plain]);
  await waitFor(
    "both sides failed a dial",
    () =>
      secure.transport.stats()[0]!.failedDials >= 1 && plain.transport.stats()[0]!.failedDials >= 1,
  );
  assert.equal(secure.transport.isConnected(plain.id), false);
  assert.equal(plain.transport.isConnected(secure.id), false);
});
