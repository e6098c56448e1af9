import fc from "fast-check";
import type { FieldTable, FieldValue } from "../../src/protocol/field-table.js";
import type { BasicProperties } from "../../src/protocol/generated/properties.js";

/** Short strings: any text whose UTF-8 form fits in 255 bytes. */
export const shortString = fc
  .string({ unit: "grapheme", maxLength: 40 })
  .filter((s) => Buffer.byteLength(s) <= 255);

const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

/** Every field value type, nested tables and arrays included. */
export const fieldValue: fc.Arbitrary<FieldValue> = fc.letrec<{
  value: FieldValue;
  table: FieldTable;
}>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.boolean().map((value) => ({ type: "t", value }) as const),
    fc.integer({ min: -128, max: 127 }).map((value) => ({ type: "b", value }) as const),
    fc.integer({ min: 0, max: 255 }).map((value) => ({ type: "B", value }) as const),
    fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: "s", value }) as const),
    fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: "U", value }) as const),
    fc.integer({ min: 0, max: 65535 }).map((value) => ({ type: "u", value }) as const),
    fc.integer().map((value) => ({ type: "I", value }) as const),
    fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ type: "i", value }) as const),
    fc
      .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
      .map((value) => ({ type: "l", value }) as const),
    fc
      .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
      .map((value) => ({ type: "L", value }) as const),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: "T", value }) as const),
    fc.float({ noNaN: true }).map((value) => ({ type: "f", value }) as const),
    fc.double({ noNaN: true }).map((value) => ({ type: "d", value }) as const),
    fc
      .record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer() })
      .map(({ scale, value }) => ({ type: "D", scale, value }) as const),
    bytes.map((value) => ({ type: "S", value }) as const),
    bytes.map((value) => ({ type: "x", value }) as const),
    fc.constant({ type: "V", value: null } as const),
    fc.array(tie("value"), { maxLength: 4 }).map((value) => ({ type: "A", value }) as const),
    tie("table").map((value) => ({ type: "F", value }) as const),
  ),
  table: fc
    .uniqueArray(fc.tuple(shortString, tie("value")), { maxLength: 5, selector: ([k]) => k })
    .map((entries) => new Map(entries)),
})).value;

export const fieldTable: fc.Arbitrary<FieldTable> = fc
  .uniqueArray(fc.tuple(shortString, fieldValue), { maxLength: 6, selector: ([k]) => k })
  .map((entries) => new Map(entries));

/** Any basic content properties, each present or absent. */
export const basicProperties: fc.Arbitrary<BasicProperties> = fc
  .record(
    {
      contentType: shortString,
      contentEncoding: shortString,
      headers: fieldTable,
      deliveryMode: fc.integer({ min: 0, max: 255 }),
      priority: fc.integer({ min: 0, max: 255 }),
      correlationId: shortString,
      replyTo: shortString,
      expiration: shortString,
      messageId: shortString,
      timestamp: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      type: shortString,
      userId: shortString,
      appId: shortString,
      clusterId: shortString,
    },
    { requiredKeys: [] },
  )
  .map((p) => ({ ...p }));
