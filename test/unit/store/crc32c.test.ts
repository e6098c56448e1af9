import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { crc32c } from "../../../src/store/crc32c.js";

test("crc32c matches the published check value and RFC 3720 test vectors", () => {
  const ascii = (text: string) => new TextEncoder().encode(text);
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("crc32c over two chunks equals crc32c over their concatenation", () => {
  fc.assert(
    fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => {
      const whole = new Uint8Array([...a, ...b]);
      assert.equal(crc32c(b, crc32c(a)), crc32c(whole));
    }),
  );
});
