import assert from "node:assert/strict";
import { after, test } from "node:test";
import { encodeFrame, FrameType } from "../../../../src/cluster/transport/frame-codec.js";
import { encodeBatch } from "../../../../src/cluster/transport/group-message-codec.js";
import { TcpPeerTransport } from "../../../../src/cluster/transport/index.js";
import type { GroupMessage } from "../../../../src/raft/index.js";
import { TcpProxy } from "../../../support/tcp-proxy.js";
import { dialAs, StuckPeer } from "./raw-peer.js";
import type { LiveNode } from "./transport-fixtures.js";
import {
  connectedMesh,
  heartbeat,
  meshOf,
  SECRET,
  startNode,
  waitFor,
} from "./transport-fixtures.js";

const open: LiveNode[] = [];
async function node(
  id: string,
  options: Parameters<typeof startNode>[1] = {},
  seed = 1,
): Promise<LiveNode> {
  const started = await startNode(id, options, seed);
  open.push(started);
  return started;
}
after(async () => {
  await Promise.all(open.map((n) => n.transport.close()));
});

function statsOf(from: LiveNode, to: LiveNode) {
  const stats = from.transport.stats().find((s) => s.peer === to.id);
  assert.ok(stats, `${from.id} has no stats for ${to.id}`);
  return stats;
}

/** An append carrying entries with data, so the bytes of entries cross the wire too. */
function append(groupId: string, from: string, to: string, index: number): GroupMessage {
  const data = Buffer.from(`${groupId}:${index}`);
  return {
    groupId,
    message: {
      type: "append",
      from,
      to,
      term: 3,
      prevIndex: index - 1,
      prevTerm: 3,
      commitIndex: index - 1,
      entries: [{ index, term: 3, kind: "command", data: new Uint8Array(data) }],
    },
  };
}

test("three transports exchange batches of many groups' messages both ways", async () => {
  const nodes = [await node("warren@a"), await node("warren@b"), await node("warren@c")];
  meshOf(nodes);
  await waitFor("every link up", () => connectedMesh(nodes));
  const expected = new Map<string, GroupMessage[]>();
  for (let turn = 0; turn < 5; turn++) {
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const batch: GroupMessage[] = [];
        for (let g = 0; g < 40; g++) {
          batch.push(
            g % 2 === 0
              ? heartbeat(`q${g}`, from.id, to.id, turn + 1)
              : append(`q${g}`, from.id, to.id, turn + 1),
          );
        }
        from.transport.send(to.id, batch);
        expected.set(`${from.id}>${to.id}`, [
          ...(expected.get(`${from.id}>${to.id}`) ?? []),
          ...batch,
        ]);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor("every batch delivered", () =>
    nodes.every((n) => n.received.length === 2 * 5 * 40),
  );
  for (const to of nodes) {
    for (const from of nodes) {
      if (from === to) continue;
      // Per sender, in the order sent.
      const got = to.received.filter((m) => m.message.from === from.id);
      assert.deepEqual(got, expected.get(`${from.id}>${to.id}`));
      const out = statsOf(from, to);
      assert.equal(out.messagesOut, 200);
      assert.equal(statsOf(to, from).messagesIn, 200);
      assert.equal(out.bytesOut, statsOf(to, from).bytesIn);
      assert.equal(out.dropped.notConnected + out.dropped.queueFull, 0);
      assert.equal(typeof out.connectedSinceMs, "number");
    }
  }
});

test("everything sent to a peer in one event-loop turn goes out in one write", async () => {
  const [a, b] = [await node("warren@d"), await node("warren@e")];
  meshOf([a, b]);
  await waitFor("link up", () => connectedMesh([a, b]));
  const before = statsOf(a, b).writes;
  for (let i = 0; i < 100; i++) a.transport.send(b.id, [heartbeat("g", a.id, b.id, i + 1)]);
  await waitFor("delivery", () => b.received.length === 100);
  assert.equal(statsOf(a, b).writes - before, 1);
  assert.deepEqual(
    b.received.map((m) => m.message.term),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
});

test("a peer with the wrong secret is refused on both sides, logged once per peer, not once per retry", async () => {
  const a = await node("warren@f");
  const b = await node("warren@g", { secret: "another cluster's secret" });
  meshOf([a, b]);
  // With 20-200 ms backoff both sides retry many times in two seconds.
  await waitFor(
    "several refused dials",
    () => statsOf(a, b).failedDials >= 5 && statsOf(b, a).failedDials >= 5,
  );
  assert.equal(a.transport.isConnected(b.id), false);
  assert.equal(b.transport.isConnected(a.id), false);
  a.transport.send(b.id, [heartbeat("g", a.id, b.id, 1)]);
  assert.equal(statsOf(a, b).dropped.notConnected, 1);
  assert.equal(b.received.length + a.received.length, 0);
  for (const n of [a, b]) {
    const lines = n.log.matching(/refused/);
    assert.ok(lines.length >= 1, `${n.id} logged no refusal`);
    // One line per peer host and reason, never one per attempt (the reason may be the peer's
    // refusal when it arrives before the bad proof).
    assert.ok(
      lines.length <= 2,
      `${n.id} logged ${lines.length} refusals:\n${lines.map((l) => l.msg).join("\n")}`,
    );
    assert.ok(
      lines.every((l) => /127\.0\.0\.1:\d+/.test(l.msg)),
      "the line names the peer's address",
    );
    assert.ok(
      lines.some((l) =>
        /does not hold this cluster's secret|holds a different cluster secret/.test(l.msg),
      ),
      lines.map((l) => l.msg).join("\n"),
    );
    assert.ok(lines.every((l) => l.level === "warn"));
  }
});

test("a peer that goes away is redialled with backoff, and traffic resumes when it is back", async () => {
  const a = await node("warren@h");
  let b = await node("warren@i");
  meshOf([a, b]);
  await waitFor("link up", () => connectedMesh([a, b]));
  const port = b.address.port;
  await b.transport.close();
  await waitFor("a notices", () => !a.transport.isConnected(b.id));
  // Sends to a peer that is down are dropped and counted; they never throw.
  for (let i = 0; i < 50; i++) a.transport.send(b.id, [heartbeat("g", a.id, b.id, i + 1)]);
  assert.equal(statsOf(a, b).dropped.notConnected, 50);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(statsOf(a, b).failedDials >= 1, "a kept dialling while b was away");
  b = await node("warren@i", { listen: { host: "127.0.0.1", port } });
  b.transport.addPeer(a.id, a.address);
  await waitFor("a reconnects", () => a.transport.isConnected(b.id), 5_000);
  assert.equal(statsOf(a, b).reconnects, 1);
  a.transport.send(b.id, [heartbeat("g", a.id, b.id, 99)]);
  await waitFor("traffic resumes", () => b.received.some((m) => m.message.term === 99));
  assert.ok(a.log.matching(/cluster link to warren@i .* lost/).length >= 1);
  assert.ok(a.log.matching(/cluster link to warren@i .* is up/).length >= 2);
});

test("a cut link drops messages without throwing, then comes back through the proxy", async () => {
  const a = await node("warren@j");
  const b = await node("warren@k");
  const proxy = new TcpProxy(b.address.host, b.address.port);
  await proxy.start();
  try {
    a.transport.addPeer(b.id, { host: "127.0.0.1", port: proxy.port });
    b.transport.addPeer(a.id, a.address);
    await waitFor("link up through the proxy", () => a.transport.isConnected(b.id));
    proxy.cut();
    await waitFor("a notices the cut", () => !a.transport.isConnected(b.id));
    for (let i = 0; i < 1_000; i++) a.transport.send(b.id, [heartbeat("g", a.id, b.id, i + 1)]);
    const stats = statsOf(a, b);
    assert.equal(stats.dropped.notConnected, 1_000);
    assert.equal(stats.queuedBytes, 0);
    await waitFor("a redials through the proxy", () => a.transport.isConnected(b.id), 5_000);
    a.transport.send(b.id, [heartbeat("g", a.id, b.id, 5_000)]);
    await waitFor("traffic resumes", () => b.received.some((m) => m.message.term === 5_000));
  } finally {
    await proxy.stop();
  }
});

test("a peer that stops reading costs a bounded queue: sends beyond it are dropped and counted", async () => {
  const stuck = new StuckPeer("warren@stuck", SECRET);
  const address = await stuck.start();
  const maxQueuedBytesPerPeer = 1024 * 1024;
  const a = await node("warren@l", { maxQueuedBytesPerPeer });
  try {
    a.transport.addPeer("warren@stuck", address);
    await waitFor("link up", () => a.transport.isConnected("warren@stuck"));
    const data = new Uint8Array(64 * 1024);
    const message: GroupMessage = {
      groupId: "g",
      message: {
        type: "append",
        from: a.id,
        to: "warren@stuck",
        term: 1,
        prevIndex: 0,
        prevTerm: 0,
        commitIndex: 0,
        entries: [{ index: 1, term: 1, kind: "command", data }],
      },
    };
    let peakQueuedBytes = 0;
    // 300 turns x 8 sends x 64 KiB: 150 MiB offered to a peer that reads nothing.
    for (let turn = 0; turn < 300; turn++) {
      for (let i = 0; i < 8; i++) a.transport.send("warren@stuck", [message]);
      await new Promise((resolve) => setImmediate(resolve));
      const stats = a.transport.stats().find((s) => s.peer === "warren@stuck")!;
      peakQueuedBytes = Math.max(peakQueuedBytes, stats.queuedBytes);
    }
    const stats = a.transport.stats().find((s) => s.peer === "warren@stuck")!;
    assert.ok(peakQueuedBytes <= maxQueuedBytesPerPeer, `queued ${peakQueuedBytes} bytes`);
    assert.ok(stats.dropped.queueFull > 2_000, `only ${stats.dropped.queueFull} dropped`);
    assert.equal(a.log.matching(/dropping messages to cluster peer warren@stuck/).length, 1);
  } finally {
    await stuck.stop();
  }
});

test("a corrupted frame closes that connection with a log line; the node keeps serving the others", async () => {
  const a = await node("warren@m");
  const b = await node("warren@n");
  meshOf([a, b]);
  b.transport.addPeer("warren@o", { host: "127.0.0.1", port: 1 });
  await waitFor("link up", () => connectedMesh([a, b]));
  const raw = await dialAs(b.address, b.id, "warren@o", SECRET);
  const closed = new Promise<void>((resolve) => raw.once("close", () => resolve()));
  raw.on("error", () => {});
  const payload = encodeBatch([heartbeat("g", "warren@o", b.id, 1)]);
  const frame = Buffer.concat(encodeFrame(FrameType.raftBatch, payload));
  frame[frame.length - 3] ^= 0x10;
  raw.write(frame);
  await closed;
  await waitFor(
    "the log line",
    () => b.log.matching(/closed cluster connection with warren@o/).length === 1,
  );
  assert.match(b.log.matching(/closed cluster connection/)[0]!.msg, /failed its checksum/);
  assert.equal(b.received.length, 0);
  a.transport.send(b.id, [heartbeat("g", a.id, b.id, 7)]);
  await waitFor("b still serves a", () => b.received.some((m) => m.message.term === 7));
});

test("garbage on the cluster port is refused with a line naming its address", async () => {
  const b = await node("warren@p");
  const { connect } = await import("node:net");
  const socket = connect(b.address.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.resume(); // read, so that the node's close reaches us
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write("GET / HTTP/1.1\r\nHost: warren\r\n\r\n");
  await closed;
  await waitFor(
    "the log line",
    () => b.log.matching(/closed cluster connection with 127\.0\.0\.1:\d+/).length === 1,
  );
});

test("a Raft batch that claims to come from another node is dropped", async () => {
  const b = await node("warren@q");
  b.transport.addPeer("warren@r", { host: "127.0.0.1", port: 1 });
  const raw = await dialAs(b.address, b.id, "warren@r", SECRET);
  raw.on("error", () => {});
  const forged = encodeBatch([
    heartbeat("g", "warren@somebody-else", b.id, 1),
    heartbeat("g", "warren@r", b.id, 2),
  ]);
  raw.write(Buffer.concat(encodeFrame(FrameType.raftBatch, forged)));
  await waitFor("the honest message", () => b.received.length === 1);
  assert.equal(b.received[0]!.message.term, 2);
  raw.destroy();
});

test("a send larger than a frame is split across frames; a message too large for any is dropped alone", async () => {
  const maxFrameBytes = 2_048;
  const a = await node("warren@s", { maxFrameBytes });
  const b = await node("warren@t", { maxFrameBytes });
  meshOf([a, b]);
  await waitFor("link up", () => connectedMesh([a, b]));
  const batch = Array.from({ length: 200 }, (_, i) => heartbeat(`group-${i}`, a.id, b.id, i + 1));
  const huge = append("big", a.id, b.id, 1);
  const tooLarge: GroupMessage = {
    groupId: "big",
    message: {
      ...(huge.message as GroupMessage["message"] & { type: "append" }),
      entries: [{ index: 1, term: 3, kind: "command", data: new Uint8Array(maxFrameBytes) }],
    },
  };
  a.transport.send(b.id, [...batch.slice(0, 100), tooLarge, ...batch.slice(100)]);
  await waitFor("every other message", () => b.received.length === 200);
  assert.deepEqual(b.received, batch);
  const stats = statsOf(a, b);
  assert.equal(stats.dropped.tooLarge, 1);
  assert.equal(stats.messagesOut, 200);
  assert.equal(stats.writes, 1);
  assert.ok(stats.bytesOut > 3 * maxFrameBytes, "the batch took several frames");
  assert.equal(a.log.matching(/over the frame limit of 2048/).length, 1);
});

test("a link whose peer stops answering (no reset, no FIN) is closed after the idle timeout and redialled", async () => {
  const stuck = new StuckPeer("warren@silent", SECRET);
  const address = await stuck.start();
  const a = await node("warren@u", { idleTimeoutMs: 400 });
  try {
    a.transport.addPeer("warren@silent", address);
    await waitFor("link up", () => a.transport.isConnected("warren@silent"));
    await waitFor(
      "the silence noticed",
      () => a.log.matching(/lost \(no answer from the peer in \d+ ms\)/).length >= 1,
      5_000,
    );
    // The peer still accepts connections: the link is redialled and comes back.
    await waitFor("redialled", () => a.transport.stats()[0]!.reconnects >= 1, 5_000);
  } finally {
    await stuck.stop();
  }
});

test("a healthy idle link stays up: pings are answered", async () => {
  const a = await node("warren@v", { idleTimeoutMs: 400 });
  const b = await node("warren@w", { idleTimeoutMs: 400 });
  meshOf([a, b]);
  await waitFor("links up", () => connectedMesh([a, b]));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.ok(connectedMesh([a, b]));
  assert.equal(statsOf(a, b).reconnects + statsOf(b, a).reconnects, 0);
});

test("when a peer dials in again, its older inbound connection is closed as stale", async () => {
  const b = await node("warren@x");
  b.transport.addPeer("warren@y", { host: "127.0.0.1", port: 1 });
  const first = await dialAs(b.address, b.id, "warren@y", SECRET);
  first.on("error", () => {});
  first.resume();
  const firstClosed = new Promise<void>((resolve) => first.once("close", () => resolve()));
  const second = await dialAs(b.address, b.id, "warren@y", SECRET);
  second.on("error", () => {});
  await firstClosed;
  second.write(
    Buffer.concat(
      encodeFrame(FrameType.raftBatch, encodeBatch([heartbeat("g", "warren@y", b.id, 3)])),
    ),
  );
  await waitFor("the new connection serves", () => b.received.length === 1);
  second.destroy();
});

test("operator mistakes are clear errors at once: a bad peer address, a certificate that does not parse", async () => {
  const a = await node("warren@z");
  assert.throws(
    () => a.transport.addPeer("warren@b", { host: "127.0.0.1", port: 70_000 }),
    /port 70000, not 1-65535/,
  );
  assert.throws(
    () => a.transport.addPeer("warren@b", { host: "", port: 25_672 }),
    /no usable address/,
  );
  assert.deepEqual(a.transport.peers(), []);
  assert.throws(
    () =>
      new TcpPeerTransport({
        nodeId: "warren@tls",
        secret: SECRET,
        listen: { host: "127.0.0.1", port: 0 },
        tls: { cert: "not a certificate", key: "not a key", ca: "not a CA" },
      }),
    /PEM|certificate|key/i,
  );
  assert.throws(
    () =>
      new TcpPeerTransport({
        nodeId: "warren@x",
        secret: "",
        listen: { host: "127.0.0.1", port: 0 },
      }),
    /the cluster secret is empty/,
  );
});

test("a cluster port already in use fails start() with the address and EADDRINUSE", async () => {
  const a = await node("warren@port");
  const clash = new TcpPeerTransport({ nodeId: "warren@clash", secret: SECRET, listen: a.address });
  await assert.rejects(clash.start(), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, "EADDRINUSE");
    assert.match(
      error.message,
      new RegExp(`cannot listen for cluster peers on 127\\.0\\.0\\.1:${a.address.port}`),
    );
    return true;
  });
  await clash.close();
});

test("a peer that moves to a new address is followed; a removed peer is neither dialled nor heard", async () => {
  const a = await node("warren@move-a");
  let b = await node("warren@move-b");
  meshOf([a, b]);
  await waitFor("links up", () => connectedMesh([a, b]));
  await b.transport.close();
  b = await node("warren@move-b");
  b.transport.addPeer(a.id, a.address);
  a.transport.addPeer(b.id, b.address);
  await waitFor("a follows b to its new port", () => a.transport.isConnected(b.id), 5_000);
  a.transport.send(b.id, [heartbeat("g", a.id, b.id, 1)]);
  await waitFor("delivery at the new address", () => b.received.length === 1);

  a.transport.removePeer(b.id);
  assert.deepEqual(a.transport.peers(), []);
  // b's link into a is closed and refused from now on: b is no longer a known member.
  await waitFor("b's link into a is closed", () => !b.transport.isConnected(a.id), 5_000);
  await waitFor(
    "b is refused",
    () => a.log.matching(/warren@move-b is not a known member of this cluster/).length === 1,
    5_000,
  );
  b.transport.send(a.id, [heartbeat("g", b.id, a.id, 2)]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(a.received.length, 0);
});
