import type { FieldValue } from "./field-table.js";

// How RabbitMQ writes field values and their types in its reply texts (inequivalent
// arguments, invalid queue arguments, headers-exchange x-match errors), so Warren's
// texts match its character for character.

/** RabbitMQ's names for field types, as they appear in its inequivalent-arg texts. */
export const TYPE_NAMES: Record<FieldValue["type"], string> = {
  t: "bool",
  b: "byte",
  B: "unsignedbyte",
  U: "short",
  s: "short",
  u: "unsignedshort",
  I: "signedint",
  i: "unsignedint",
  l: "long",
  L: "long",
  f: "float",
  d: "double",
  D: "decimal",
  S: "longstr",
  x: "binary",
  A: "array",
  T: "timestamp",
  F: "table",
  V: "void",
};

/** A field value as RabbitMQ prints it inside a reply text. */
export function describeValue(v: FieldValue): string {
  switch (v.type) {
    case "S":
    case "x":
      return v.value.toString();
    case "A":
      return `[${v.value.map(describeValue).join(",")}]`;
    case "F":
      return `[${[...v.value].map(([k, x]) => `{${k},${describeValue(x)}}`).join(",")}]`;
    case "V":
      return "undefined";
    case "D":
      return String(v.value / 10 ** v.scale);
    default:
      return String(v.value);
  }
}
