import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Decoded, Frame } from "../../../../src/cluster/transport/frame-codec.js";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from "../../../../src/cluster/transport/frame-codec.js";

/** Feeds the bytes in the given chunk sizes and collects every frame and the defect, if any. */
function decodeInChunks(bytes: Buffer, cuts: number[], maxPayloadBytes = 1 << 20) {
  const decoder = new FrameDecoder(maxPayloadBytes);
  const frames: Frame[] = [];
  let defect: Decoded["defect"];
  const sorted = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const end of [...sorted, bytes.length]) {
    decoder.push(bytes.subarray(start, end));
    start = end;
    for (let d = decoder.next(); d !== null; d = decoder.next()) {
      if (d.defect !== undefined) {
        defect = d.defect;
        break;
      }
      frames.push(d.frame);
    }
    if (defect !== undefined) break;
  }
  return { frames, defect, decoder };
}

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

test("frames split into arbitrary chunks decode to the frames that were encoded", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (sent, cuts) => {
        const bytes = Buffer.concat(sent.flatMap((f) => encodeFrame(f.type, f.payload)));
        const { frames, defect, decoder } = decodeInChunks(bytes, cuts);
        assert.equal(defect, undefined);
        assert.deepEqual(
          frames.map((f) => ({ type: f.type, payload: new Uint8Array(f.payload) })),
          structuredClone(sent),
        );
        assert.equal(decoder.bufferedBytes(), 0);
      },
    ),
  );
});

test("any damaged byte in a frame stream is detected, never decoded as a different frame", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (sent, position, xor, cuts) => {
        const bytes = Buffer.concat(sent.flatMap((f) => encodeFrame(f.type, f.payload)));
        const at = position % bytes.length;
        bytes[at] = bytes[at]! ^ xor;
        const { frames, defect } = decodeInChunks(bytes, cuts);
        assert.notEqual(defect, undefined, `damage at byte ${at} went unnoticed`);
        // Frames before the damaged one are intact and in order.
        for (const [i, frame] of frames.entries()) {
          assert.equal(frame.type, sent[i]!.type);
          assert.deepEqual(new Uint8Array(frame.payload), sent[i]!.payload);
        }
      },
    ),
  );
});

test("a frame over the limit is refused from its header alone, before its payload arrives", () => {
  const [header] = encodeFrame(16, Buffer.alloc(5_000));
  const decoder = new FrameDecoder(4_096);
  decoder.push(header!);
  const decoded = decoder.next();
  assert.deepEqual(decoded?.defect, { kind: "tooLarge", type: 16, bytes: 5_000, max: 4_096 });
  // And the decoder stays refused: a length can no longer be trusted.
  decoder.push(Buffer.concat(encodeFrame(1, Buffer.from("hi"))));
  assert.equal(decoder.next()?.defect?.kind, "tooLarge");
});

test("a raised limit applies to the next frame, so a handshake can open the way for large frames", () => {
  const small = encodeFrame(2, Buffer.alloc(10));
  const large = encodeFrame(16, Buffer.alloc(10_000));
  const decoder = new FrameDecoder(4_096);
  decoder.push(Buffer.concat([...small, ...large]));
  assert.equal(decoder.next()?.frame?.type, 2);
  decoder.setMaxPayloadBytes(1 << 20);
  assert.equal(decoder.next()?.frame?.payload.length, 10_000);
});

test("an empty payload is a frame, and a partial header waits for more bytes", () => {
  const bytes = Buffer.concat(encodeFrame(7, new Uint8Array(0)));
  assert.equal(bytes.length, FRAME_HEADER_BYTES);
  const decoder = new FrameDecoder(100);
  decoder.push(bytes.subarray(0, 5));
  assert.equal(decoder.next(), null);
  decoder.push(bytes.subarray(5));
  assert.deepEqual(decoder.next()?.frame, { type: 7, payload: Buffer.alloc(0) });
  assert.equal(decoder.next(), null);
});

test("garbage that is not a frame is refused at the first header", () => {
  const decoder = new FrameDecoder(1 << 20);
  decoder.push(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.equal(decoder.next()?.defect?.kind, "headerChecksum");
});
