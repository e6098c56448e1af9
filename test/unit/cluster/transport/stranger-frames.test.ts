/**
 * TcpPeerTransport.serveStrangers: a node that proves the cluster secret but is no peer
 * (one that asks to join) may send the served frame types, answered on its own connection;
 * anything else it sends (a forgotten node's Raft messages) is answered with the not-member
 * frame and its connection closed. Without serveStrangers it is refused at the handshake.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { LiveNode } from "./transport-fixtures.js";
import { heartbeat, startNode, waitFor } from "./transport-fixtures.js";

const REQUEST = 60;
const REPLY = 61;
const NOT_MEMBER = 62;

const open: LiveNode[] = [];
async function node(id: string, seed: number): Promise<LiveNode> {
  const started = await startNode(id, {}, seed);
  open.push(started);
  return started;
}
after(async () => {
  await Promise.all(open.map((n) => n.transport.close()));
});

test("a stranger holding the secret gets its request answered on the connection it dialled", async () => {
  const member = await node("warren@a", 1);
  const stranger = await node("warren@new", 2);
  member.transport.serveStrangers({
    handlers: new Map([
      [REQUEST, (from, payload, reply) => reply(REPLY, Buffer.from(`${from} asked ${payload}`))],
    ]),
    notMember: () => ({ type: NOT_MEMBER, payload: new Uint8Array() }),
  });
  const answers: string[] = [];
  stranger.transport.onFrame(REPLY, (_from, payload) => answers.push(payload.toString()));
  stranger.transport.addPeer(member.id, member.address);
  await waitFor("the stranger's link", () => stranger.transport.isConnected(member.id));
  assert.ok(stranger.transport.sendFrame(member.id, REQUEST, Buffer.from("to join")));
  await waitFor("the answer", () => answers.length === 1);
  assert.deepEqual(answers, ["warren@new asked to join"]);
  assert.deepEqual(member.transport.peers(), [], "answering does not make it a peer");
});

test("a stranger's Raft messages are not taken: it is told it is no member and cut off", async () => {
  const member = await node("warren@b", 3);
  const forgotten = await node("warren@old", 4);
  member.transport.serveStrangers({
    handlers: new Map(),
    notMember: () => ({ type: NOT_MEMBER, payload: Buffer.from(member.id) }),
  });
  const told: string[] = [];
  forgotten.transport.onFrame(NOT_MEMBER, (from) => told.push(from));
  forgotten.transport.addPeer(member.id, member.address);
  await waitFor("the forgotten node's link", () => forgotten.transport.isConnected(member.id));
  forgotten.transport.send(member.id, [heartbeat("metadata", forgotten.id, member.id, 9)]);
  await waitFor("the not-member frame", () => told.length >= 1);
  assert.equal(told[0], member.id);
  assert.equal(member.received.length, 0, "no Raft message from a non-member gets through");
});

test("without serveStrangers an unknown name is refused at the handshake, as before", async () => {
  const member = await node("warren@c", 5);
  const stranger = await node("warren@x", 6);
  stranger.transport.addPeer(member.id, member.address);
  await waitFor("the refusal", () =>
    member.log.lines.some((l) => l.msg.includes("is not a known member of this cluster")),
  );
  assert.equal(stranger.transport.isConnected(member.id), false);
});
