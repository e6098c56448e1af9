import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameWriter } from "../../../src/protocol/frame-writer.js";
import { Writer } from "../../../src/protocol/wire-writer.js";

test("a released writer holds no buffer until its next write, which gets the size asked for", () => {
  const w = new Writer(0);
  w.long(7);
  w.shortstr("queue");
  const out = w.release(8192);
  assert.deepEqual([...out], [0, 0, 0, 7, 5, ...Buffer.from("queue")]);
  assert.equal(w.buf.length, 0);
  assert.equal(w.pos, 0);
  w.octet(1);
  assert.equal(w.buf.length, 8192);
  // Growing past it still doubles and keeps what was written.
  w.bytes(Buffer.alloc(10_000, 2));
  assert.equal(w.buf.length, 16384);
  assert.equal(w.buf[0], 1);
  assert.equal(w.buf[10_000], 2);
});

test("frames written after take() are whole and separate from the ones taken", () => {
  const fw = new FrameWriter(4096);
  fw.heartbeat();
  const first = Buffer.concat(fw.take());
  assert.equal(fw.isEmpty, true);
  fw.heartbeat();
  fw.heartbeat();
  const second = Buffer.concat(fw.take());
  assert.deepEqual([...first], [8, 0, 0, 0, 0, 0, 0, 0xce]);
  assert.deepEqual(second, Buffer.concat([first, first]));
  // The first batch was not overwritten by the second.
  assert.deepEqual([...first], [8, 0, 0, 0, 0, 0, 0, 0xce]);
});
