import { connectionError } from "./amqp-error.js";
import { ReplyCode } from "./generated/constants.js";
import { Reader } from "./wire-reader.js";
import type { Writer } from "./wire-writer.js";

/**
 * AMQP field tables with every type tag kept, so that a decoded table encodes back
 * to the same bytes. The tags are RabbitMQ's (the 0-9-1 errata): t bool, b int8,
 * B uint8, s int16, u uint16, I int32, i uint32, l int64, f float, d double,
 * D decimal, S long string, x byte array, A array, T timestamp, F table, V void.
 * U (int16) and L (int64) from the original 0-9-1 table are read and written too.
 */
export type FieldValue =
  | { readonly type: "t"; readonly value: boolean }
  | {
      readonly type: "b" | "B" | "U" | "s" | "u" | "I" | "i" | "f" | "d";
      readonly value: number;
    }
  | { readonly type: "l" | "L" | "T"; readonly value: bigint }
  | { readonly type: "D"; readonly scale: number; readonly value: number }
  | { readonly type: "S" | "x"; readonly value: Buffer }
  | { readonly type: "A"; readonly value: readonly FieldValue[] }
  | { readonly type: "F"; readonly value: FieldTable }
  | { readonly type: "V"; readonly value: null };

export type FieldTable = Map<string, FieldValue>;

/** Tables and arrays nested deeper than this are refused (a hostile frame cannot exhaust the stack). */
const MAX_DEPTH = 64;
let depth = 0;

function nested<T>(decode: () => T): T {
  if (++depth > MAX_DEPTH) {
    depth--;
    throw connectionError(
      ReplyCode.FRAME_ERROR,
      `field table nested deeper than ${MAX_DEPTH} levels`,
    );
  }
  try {
    return decode();
  } finally {
    depth--;
  }
}

export function decodeFieldTable(buf: Buffer, start: number, end: number): FieldTable {
  return nested(() => {
    const r = new Reader(buf, start, end);
    const table: FieldTable = new Map();
    while (r.pos < end) {
      const key = r.shortstr();
      table.set(key, decodeFieldValue(r));
    }
    return table;
  });
}

export function decodeFieldArray(buf: Buffer, start: number, end: number): FieldValue[] {
  return nested(() => {
    const r = new Reader(buf, start, end);
    const out: FieldValue[] = [];
    while (r.pos < end) out.push(decodeFieldValue(r));
    return out;
  });
}

function decodeFieldValue(r: Reader): FieldValue {
  const tag = String.fromCharCode(r.octet());
  switch (tag) {
    case "t":
      return { type: "t", value: r.octet() !== 0 };
    case "b":
      return { type: "b", value: r.int8() };
    case "B":
      return { type: "B", value: r.octet() };
    case "s":
    case "U":
      return { type: tag, value: r.int16() };
    case "u":
      return { type: "u", value: r.short() };
    case "I":
      return { type: "I", value: r.int32() };
    case "i":
      return { type: "i", value: r.long() };
    case "l":
    case "L":
      return { type: tag, value: r.int64() };
    case "T":
      return { type: "T", value: r.uint64() };
    case "f":
      return { type: "f", value: r.float() };
    case "d":
      return { type: "d", value: r.double() };
    case "D": {
      const scale = r.octet();
      return { type: "D", scale, value: r.int32() };
    }
    case "S":
      return { type: "S", value: Buffer.from(r.longstr()) };
    case "x":
      return { type: "x", value: Buffer.from(r.longstr()) };
    case "A":
      return { type: "A", value: r.array() };
    case "F":
      return { type: "F", value: r.table() };
    case "V":
      return { type: "V", value: null };
    default:
      throw connectionError(
        ReplyCode.FRAME_ERROR,
        `unknown field table type tag 0x${tag.charCodeAt(0).toString(16)}`,
      );
  }
}

export function encodeFieldTable(w: Writer, table: FieldTable | undefined): void {
  const lenAt = w.reserve(4);
  const start = w.pos;
  if (table) {
    for (const [key, value] of table) {
      w.shortstr(key);
      encodeFieldValue(w, value);
    }
  }
  w.buf.writeUInt32BE(w.pos - start, lenAt);
}

function encodeFieldArray(w: Writer, values: readonly FieldValue[]): void {
  const lenAt = w.reserve(4);
  const start = w.pos;
  for (const v of values) encodeFieldValue(w, v);
  w.buf.writeUInt32BE(w.pos - start, lenAt);
}

function encodeFieldValue(w: Writer, v: FieldValue): void {
  w.octet(v.type.charCodeAt(0));
  switch (v.type) {
    case "t":
      return w.octet(v.value ? 1 : 0);
    case "b":
      return w.int8(v.value);
    case "B":
      return w.octet(v.value);
    case "s":
    case "U":
      return w.int16(v.value);
    case "u":
      return w.short(v.value);
    case "I":
      return w.int32(v.value);
    case "i":
      return w.long(v.value);
    case "l":
    case "L":
      return w.int64(v.value);
    case "T":
      return w.uint64(v.value);
    case "f":
      return w.float(v.value);
    case "d":
      return w.double(v.value);
    case "D":
      w.octet(v.scale);
      return w.int32(v.value);
    case "S":
    case "x":
      return w.longstr(v.value);
    case "A":
      return encodeFieldArray(w, v.value);
    case "F":
      return encodeFieldTable(w, v.value);
    case "V":
      return;
  }
}
