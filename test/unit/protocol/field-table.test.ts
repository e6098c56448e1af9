import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AmqpError } from "../../../src/protocol/amqp-error.js";
import { encodeFieldTable } from "../../../src/protocol/field-table.js";
import { Reader } from "../../../src/protocol/wire-reader.js";
import { Writer } from "../../../src/protocol/wire-writer.js";
import { fieldTable } from "../../support/field-arbitraries.js";

function encode(table: Parameters<typeof encodeFieldTable>[1]): Buffer {
  const w = new Writer(16);
  encodeFieldTable(w, table);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

test("a field table of every type decodes to what was encoded", () => {
  fc.assert(
    fc.property(fieldTable, (table) => {
      const bytes = encode(table);
      const r = new Reader(bytes);
      assert.deepEqual(r.table(), table);
      assert.equal(r.remaining, 0);
    }),
    { numRuns: 500 },
  );
});

test("decoding then encoding a table gives back the same bytes", () => {
  fc.assert(
    fc.property(fieldTable, (table) => {
      const bytes = encode(table);
      assert.deepEqual(encode(new Reader(bytes).table()), bytes);
    }),
    { numRuns: 300 },
  );
});

test("an unknown type tag is a FRAME_ERROR, not a crash", () => {
  const bytes = Buffer.from([0, 0, 0, 3, 1, 0x6b, 0x3f]); // key "k", tag '?'
  assert.throws(
    () => new Reader(bytes).table(),
    (e: unknown) => e instanceof AmqpError && e.replyCode === 501 && e.scope === "connection",
  );
});

test("a table whose length runs past its frame is a FRAME_ERROR", () => {
  const bytes = Buffer.from([0, 0, 0, 50, 1, 0x6b, 0x74, 1]);
  assert.throws(
    () => new Reader(bytes).table(),
    (e: unknown) => e instanceof AmqpError && e.replyCode === 501,
  );
});

test("any byte sequence decodes to a table or a FRAME_ERROR, never another exception", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (arr) => {
      const buf = Buffer.from(arr);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(buf.length);
      try {
        new Reader(Buffer.concat([len, buf])).table();
      } catch (e) {
        assert.ok(e instanceof AmqpError, String(e));
        assert.equal(e.replyCode, 501);
      }
    }),
    { numRuns: 2000 },
  );
});
