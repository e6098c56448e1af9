import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeFrame, FrameDecoder } from "../../../../src/cluster/transport/frame-codec.js";
import {
  decodeBatch,
  encodeBatch,
  encodeGroupMessages,
} from "../../../../src/cluster/transport/group-message-codec.js";
import { WireError } from "../../../../src/cluster/transport/wire-reader.js";
import type { GroupMessage } from "../../../../src/raft/index.js";
import { groupMessage } from "./transport-fixtures.js";

const batchOf = (messages: readonly GroupMessage[]) => encodeBatch(messages);

test("every Raft message, entries' data and snapshots included, survives the round trip", () => {
  fc.assert(
    fc.property(fc.array(groupMessage, { maxLength: 10 }), (messages) => {
      // structuredClone: fast-check's records have no prototype; decoded ones are plain objects.
      assert.deepEqual(decodeBatch(batchOf(messages)), structuredClone(messages));
    }),
    { numRuns: 500 },
  );
});

test("a batch cut short anywhere is refused", () => {
  fc.assert(
    fc.property(
      fc.array(groupMessage, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (messages, cut) => {
        const bytes = batchOf(messages);
        const truncated = bytes.subarray(0, cut % bytes.length);
        assert.throws(() => decodeBatch(truncated), WireError);
      },
    ),
  );
});

test("a damaged byte in a framed batch is caught by the frame, never handed on as other messages", () => {
  fc.assert(
    fc.property(
      fc.array(groupMessage, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (messages, position, xor) => {
        const bytes = Buffer.concat(encodeFrame(16, batchOf(messages)));
        const at = position % bytes.length;
        bytes[at] = bytes[at]! ^ xor;
        const decoder = new FrameDecoder(1 << 20);
        decoder.push(bytes);
        const decoded = decoder.next();
        assert.notEqual(decoded?.defect, undefined);
      },
    ),
  );
});

test("a damaged batch payload that gets past the frame is either refused or well-formed, never a crash", () => {
  fc.assert(
    fc.property(
      fc.array(groupMessage, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (messages, position, xor) => {
        const bytes = batchOf(messages);
        const at = position % bytes.length;
        bytes[at] = bytes[at]! ^ xor;
        try {
          for (const { message } of decodeBatch(bytes)) {
            assert.ok(Number.isSafeInteger(message.term) && message.term >= 0);
          }
        } catch (error) {
          assert.ok(error instanceof WireError, `not a WireError: ${error}`);
        }
      },
    ),
  );
});

test("the decoder refuses what no encoder writes: bad flags, unknown types, huge integers, bad UTF-8, trailing bytes", () => {
  const vote: GroupMessage = {
    groupId: "g",
    message: {
      type: "vote",
      from: "a",
      to: "b",
      term: 1,
      preVote: false,
      lastIndex: 2,
      lastTerm: 1,
      transfer: false,
    },
  };
  const good = batchOf([vote]);
  // Layout: u32 count | string "g" (4+1) | u8 type | string "a" (4+1) | string "b" (4+1) | u64 term | u8 preVote ...
  const typeAt = 4 + 5;
  const termAt = typeAt + 1 + 5 + 5;
  const preVoteAt = termAt + 8;
  const damaged = (at: number, value: number) => {
    const copy = Buffer.from(good);
    copy[at] = value;
    return copy;
  };
  assert.throws(() => decodeBatch(damaged(preVoteAt, 2)), /preVote is 2/);
  assert.throws(() => decodeBatch(damaged(typeAt, 99)), /unknown Raft message type 99/);
  assert.throws(() => decodeBatch(damaged(termAt + 7, 0xff)), /a term is out of range/);
  assert.throws(() => decodeBatch(damaged(4 + 4, 0xff)), /not valid UTF-8/);
  assert.throws(() => decodeBatch(Buffer.concat([good, Buffer.from([0])])), /trailing bytes/);
  const hugeCount = Buffer.from(good);
  hugeCount.writeUInt32LE(0xffffffff, 0);
  assert.throws(() => decodeBatch(hugeCount), /cannot fit/);
});

test("entry data is copied out of the payload, so a log entry does not pin a socket buffer", () => {
  const append: GroupMessage = {
    groupId: "g",
    message: {
      type: "append",
      from: "a",
      to: "b",
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      commitIndex: 0,
      entries: [{ index: 1, term: 1, kind: "command", data: new Uint8Array([1, 2, 3]) }],
    },
  };
  const payload = batchOf([append]);
  const [decoded] = decodeBatch(payload);
  const data = (decoded!.message as typeof append.message & { type: "append" }).entries[0]!.data;
  assert.notEqual(data.buffer, payload.buffer);
  payload.fill(0);
  assert.deepEqual(data, new Uint8Array([1, 2, 3]));
});

test("a message that cannot be encoded is left out and reported; the others keep their bytes", () => {
  const good = heartbeatOf(1);
  const bad: GroupMessage = { groupId: "g", message: { ...good.message, term: -1 } };
  const encoded = encodeGroupMessages([good, bad, heartbeatOf(3)]);
  assert.deepEqual(
    encoded.failed.map((f) => f.index),
    [1],
  );
  assert.equal(encoded.ends.length, 2);
  const payload = Buffer.concat([Buffer.from([2, 0, 0, 0]), encoded.bytes]);
  assert.deepEqual(
    decodeBatch(payload).map((m) => m.message.term),
    [1, 3],
  );
});

function heartbeatOf(term: number): GroupMessage {
  return { groupId: "g", message: { type: "heartbeat", from: "a", to: "b", term, commitIndex: 0 } };
}
