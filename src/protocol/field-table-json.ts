import type { FieldTable, FieldValue } from "./field-table.js";

/**
 * Field tables as JSON, two ways. Tagged JSON keeps every type ([tag, value]) so
 * Warren's own definitions file restores arguments exactly. Plain JSON is RabbitMQ's
 * definitions format (numbers, strings, booleans, arrays, objects) for import and
 * export, where integers become `l` (long) and other numbers `d`, as RabbitMQ does.
 */
export type TaggedJson = [string, unknown];

export function toTaggedJson(table: FieldTable): Record<string, TaggedJson> {
  // fromEntries makes own properties, so a key such as "__proto__" stays a plain key.
  return Object.fromEntries([...table].map(([k, v]) => [k, valueToTagged(v)]));
}

function valueToTagged(v: FieldValue): TaggedJson {
  switch (v.type) {
    case "S":
    case "x":
      return [v.type, v.value.toString("base64")];
    case "l":
    case "L":
    case "T":
      return [v.type, v.value.toString()];
    case "D":
      return ["D", [v.scale, v.value]];
    case "A":
      return ["A", v.value.map(valueToTagged)];
    case "F":
      return ["F", toTaggedJson(v.value)];
    default:
      return [v.type, v.value];
  }
}

export function fromTaggedJson(json: Record<string, TaggedJson>): FieldTable {
  const table: FieldTable = new Map();
  for (const [k, v] of Object.entries(json)) table.set(k, taggedToValue(v));
  return table;
}

function taggedToValue([type, value]: TaggedJson): FieldValue {
  switch (type) {
    case "S":
    case "x":
      return { type, value: Buffer.from(value as string, "base64") };
    case "l":
    case "L":
    case "T":
      return { type, value: BigInt(value as string) };
    case "D": {
      const [scale, v] = value as [number, number];
      return { type: "D", scale, value: v };
    }
    case "A":
      return { type: "A", value: (value as TaggedJson[]).map(taggedToValue) };
    case "F":
      return { type: "F", value: fromTaggedJson(value as Record<string, TaggedJson>) };
    case "V":
      return { type: "V", value: null };
    case "t":
      return { type: "t", value: value as boolean };
    default:
      return { type: type as "I", value: value as number };
  }
}

/** RabbitMQ definitions JSON: plain values. */
export function toPlainJson(table: FieldTable): Record<string, unknown> {
  return Object.fromEntries([...table].map(([k, v]) => [k, valueToPlain(v)]));
}

function valueToPlain(v: FieldValue): unknown {
  switch (v.type) {
    case "S":
    case "x":
      return v.value.toString();
    case "l":
    case "L":
    case "T":
      return Number(v.value);
    case "D":
      return v.value / 10 ** v.scale;
    case "A":
      return v.value.map(valueToPlain);
    case "F":
      return toPlainJson(v.value);
    default:
      return v.value;
  }
}

export function fromPlainJson(json: Record<string, unknown>): FieldTable {
  const table: FieldTable = new Map();
  for (const [k, v] of Object.entries(json)) table.set(k, plainToValue(v));
  return table;
}

/** JSON integers that fit a signed 64-bit long; larger ones (1e300) are doubles, as in RabbitMQ. */
function isLong(v: number): boolean {
  return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63;
}

export function plainToValue(v: unknown): FieldValue {
  if (v === null || v === undefined) return { type: "V", value: null };
  if (typeof v === "boolean") return { type: "t", value: v };
  if (typeof v === "number")
    return isLong(v) ? { type: "l", value: BigInt(v) } : { type: "d", value: v };
  if (typeof v === "string") return { type: "S", value: Buffer.from(v) };
  if (Array.isArray(v)) return { type: "A", value: v.map(plainToValue) };
  return { type: "F", value: fromPlainJson(v as Record<string, unknown>) };
}
