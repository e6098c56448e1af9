/**
 * Requests and replies between nodes over application frames (PeerRequests), and the
 * metadata forwarder on top of them (TransportForwarder): answered, refused, timed out, a
 * link lost with a request out, and whether each failure says the command may have arrived.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ForwardFailedError, type ForwardReply } from "../../../src/cluster/metadata/index.js";
import type { FrameHandler } from "../../../src/cluster/transport/index.js";
import {
  type FrameTransport,
  PeerRequestError,
  PeerRequests,
} from "../../../src/cluster/transport/peer-requests.js";
import { TransportForwarder } from "../../../src/cluster/transport/transport-forwarder.js";

/** Two nodes' frames in memory: delivered on a later turn while the link is up. */
class FrameMesh {
  private readonly handlers = new Map<string, Map<number, FrameHandler>>();
  up = true;
  /** Frames delivered so far, by type (to check what crossed). */
  readonly delivered: number[] = [];

  node(id: string): FrameTransport {
    const own = new Map<number, FrameHandler>();
    this.handlers.set(id, own);
    return {
      onFrame: (type, handler) => {
        own.set(type, handler);
      },
      sendFrame: (to, type, payload) => {
        if (!this.up) return false;
        const copy = Buffer.from(payload);
        setImmediate(() => {
          if (!this.up) return;
          this.delivered.push(type);
          this.handlers.get(to)?.get(type)?.(id, copy);
        });
        return true;
      },
    };
  }
}

describe("PeerRequests", () => {
  test("a request gets the handler's answer", async () => {
    const mesh = new FrameMesh();
    const a = new PeerRequests(mesh.node("a"));
    const b = new PeerRequests(mesh.node("b"));
    b.serve(7, async (from, payload) => Buffer.from(`${from} said ${payload.toString()}`));
    const answer = await a.request("b", 7, Buffer.from("hello"));
    assert.equal(answer.toString(), "a said hello");
  });

  test("a handler that fails, or a kind the peer does not serve, rejects as sent", async () => {
    const mesh = new FrameMesh();
    const a = new PeerRequests(mesh.node("a"));
    const b = new PeerRequests(mesh.node("b"));
    b.serve(7, async () => {
      throw new Error("not the leader");
    });
    await assert.rejects(a.request("b", 7, new Uint8Array(0)), (e: PeerRequestError) => {
      assert.ok(e instanceof PeerRequestError);
      assert.equal(e.sent, true);
      assert.match(e.message, /b could not answer: not the leader/);
      return true;
    });
    await assert.rejects(a.request("b", 9, new Uint8Array(0)), /request kind 9 is not known here/);
  });

  test("no link: rejected at once as not sent", async () => {
    const mesh = new FrameMesh();
    mesh.up = false;
    const a = new PeerRequests(mesh.node("a"));
    await assert.rejects(a.request("b", 7, new Uint8Array(0)), (e: PeerRequestError) => {
      assert.equal(e.sent, false);
      return true;
    });
  });

  test("no answer in time rejects as sent, and a late answer is ignored", async () => {
    const mesh = new FrameMesh();
    const a = new PeerRequests(mesh.node("a"));
    const b = new PeerRequests(mesh.node("b"));
    let release: () => void = () => {};
    b.serve(7, () => new Promise((resolve) => (release = () => resolve(Buffer.from("late")))));
    await assert.rejects(a.request("b", 7, new Uint8Array(0), 30), (e: PeerRequestError) => {
      assert.equal(e.sent, true);
      assert.match(e.message, /no answer from b within 30 ms/);
      return true;
    });
    release();
    await new Promise((r) => setTimeout(r, 20));
  });

  test("the link lost with a request out rejects it as sent, without waiting for the timeout", async () => {
    const mesh = new FrameMesh();
    const a = new PeerRequests(mesh.node("a"));
    const b = new PeerRequests(mesh.node("b"));
    b.serve(7, () => new Promise(() => {}));
    const started = Date.now();
    const pending = a.request("b", 7, new Uint8Array(0), 60_000);
    await new Promise((r) => setImmediate(r));
    a.peerLost("b");
    await assert.rejects(pending, /the link to b was lost/);
    assert.ok(Date.now() - started < 5_000);
    a.close();
  });
});

describe("TransportForwarder", () => {
  test("a forwarded command reaches the leader's handler and its reply comes back", async () => {
    const mesh = new FrameMesh();
    const follower = new TransportForwarder(new PeerRequests(mesh.node("f")));
    const leader = new TransportForwarder(new PeerRequests(mesh.node("l")));
    const seen: number[][] = [];
    const reply: ForwardReply = {
      ok: true,
      index: 12,
      term: 3,
      result: { ok: true, result: null, messagesDropped: 0 },
    };
    leader.serve(async (command) => {
      seen.push([...command]);
      return reply;
    });
    assert.deepEqual(await follower.forward("l", Uint8Array.of(1, 2, 3)), reply);
    assert.deepEqual(seen, [[1, 2, 3]]);
  });

  test("a forward that cannot be sent fails as not sent; one lost on the way fails as sent", async () => {
    const mesh = new FrameMesh();
    const requests = new PeerRequests(mesh.node("f"));
    const follower = new TransportForwarder(requests, 50);
    mesh.up = false;
    await assert.rejects(follower.forward("l", Uint8Array.of(1)), (e: ForwardFailedError) => {
      assert.ok(e instanceof ForwardFailedError);
      assert.equal(e.sent, false);
      return true;
    });
    mesh.up = true;
    // Nobody serves at "l": its frames are dropped, and the forward times out.
    await assert.rejects(follower.forward("l", Uint8Array.of(1)), (e: ForwardFailedError) => {
      assert.equal(e.sent, true);
      return true;
    });
  });
});
