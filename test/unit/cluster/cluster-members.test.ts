import assert from "node:assert/strict";
import { test } from "node:test";
import {
  byName,
  decodeAnswer,
  decodeRequest,
  encodeJson,
  type MemberAddress,
  peersOf,
  samePeers,
} from "../../../src/cluster/cluster-members.js";
import { MetadataMachine } from "../../../src/cluster/metadata/metadata-machine.js";
import { silentLog } from "../../../src/log.js";
import type { LogEntry, Snapshot } from "../../../src/raft/index.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";

const a: MemberAddress = { name: "warren@a", host: "10.0.0.1", port: 25672 };
const b: MemberAddress = { name: "warren@b", host: "10.0.0.2", port: 25672 };
const c: MemberAddress = { name: "warren@c", host: "10.0.0.3", port: 25672 };
const cMoved: MemberAddress = { ...c, host: "10.0.0.33" };

test("peers are the members but this node, at the first address a source knows", () => {
  const membership = { voters: ["warren@a", "warren@b"], learners: ["warren@c"] };
  const peers = peersOf(membership, "warren@a", [byName([cMoved]), byName([a, b, c])]);
  assert.deepEqual([...peers.keys()], ["warren@b", "warren@c"]);
  assert.equal(peers.get("warren@c")!.host, "10.0.0.33", "the replicated list wins");
});

test("a node in a source but not in the membership (a forgotten one) is not a peer", () => {
  const peers = peersOf({ voters: ["warren@a", "warren@b"], learners: [] }, "warren@a", [
    byName([a, b, c]),
  ]);
  assert.deepEqual([...peers.keys()], ["warren@b"]);
});

test("a member with no known address is left out until one is learned", () => {
  const peers = peersOf({ voters: ["warren@a", "warren@d"], learners: [] }, "warren@a", [
    byName([a]),
  ]);
  assert.equal(peers.size, 0);
});

test("samePeers compares names and addresses", () => {
  assert.ok(samePeers(byName([b, c]), byName([c, b])));
  assert.ok(!samePeers(byName([b, c]), byName([b, cMoved])));
  assert.ok(!samePeers(byName([b]), byName([b, c])));
});

test("membership requests and answers survive their encoding; malformed ones are refused", () => {
  assert.deepEqual(decodeRequest(encodeJson({ op: "join", member: c })), { op: "join", member: c });
  assert.deepEqual(decodeRequest(encodeJson({ op: "forget", name: "warren@c" })), {
    op: "forget",
    name: "warren@c",
  });
  assert.match(String(decodeRequest(new TextEncoder().encode("{"))), /malformed/);
  assert.match(
    String(decodeRequest(encodeJson({ op: "join", member: { ...c, port: 70000 } } as never))),
    /port 1-65535/,
  );
  assert.match(String(decodeRequest(new TextEncoder().encode('{"op":"grow"}'))), /unknown/);
  const ok = { ok: true as const, members: [a, b], detail: "joined" };
  assert.deepEqual(decodeAnswer(encodeJson(ok)), ok);
  assert.deepEqual(decodeAnswer(encodeJson({ ok: false, error: "no" })), {
    ok: false,
    error: "no",
  });
  assert.match(
    (decodeAnswer(new TextEncoder().encode('{"definitions":null}')) as { error: string }).error,
    /malformed answer/,
  );
});

function command(index: number, value: object): LogEntry {
  return { index, term: 1, kind: "command", data: new TextEncoder().encode(JSON.stringify(value)) };
}

test("the metadata machine keeps the member list from the log and carries it in its snapshot", () => {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  const machine = new MetadataMachine(broker.metadataReplica());
  const empty: Snapshot = {
    meta: { index: 0, term: 0, membership: { voters: [], learners: [] } },
    data: new Uint8Array(),
  };
  machine.restore(empty);
  machine.apply(command(1, { type: "cluster.member.put", member: a }));
  machine.apply(command(2, { type: "cluster.member.put", member: c }));
  machine.apply(command(3, { type: "cluster.member.delete", name: "warren@a" }));
  assert.deepEqual([...machine.members.values()], [c]);

  const other = new MetadataMachine(
    new Broker(DEFAULT_SETTINGS, silentLog, systemSources).metadataReplica(),
  );
  other.restore({
    meta: { index: 3, term: 1, membership: { voters: ["warren@c"], learners: [] } },
    data: machine.snapshot(),
  });
  assert.deepEqual([...other.members.values()], [c]);
  // A snapshot of before the member list (no "members" key) restores to an empty list.
  other.restore(empty);
  assert.equal(other.members.size, 0);
});
