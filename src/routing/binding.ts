import type { FieldTable, FieldValue } from "../protocol/field-table.js";

/** A queue or exchange that bindings point at (compared by identity). */
export interface Destination {
  readonly kind: "queue" | "exchange";
  readonly name: string;
}

export interface Binding {
  readonly source: string;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

/** What an exchange type needs from a published message to route it. */
export interface RoutingInput {
  readonly routingKey: string;
  /** The message headers, decoded on first use (only headers exchanges ask). */
  headers(): FieldTable;
}

/** One exchange type's routing table (DESIGN: one file per exchange type). */
export interface ExchangeRouter {
  /** Throws an AmqpError when the binding's key or arguments make no sense for this type. */
  validate?(binding: Binding): void;
  add(binding: Binding): void;
  remove(binding: Binding): void;
  route(input: RoutingInput, out: Set<Destination>): void;
}

/** Bindings are equal when source, destination, key and arguments all match (as RabbitMQ compares them). */
export function sameBinding(a: Binding, b: Binding): boolean {
  return (
    a.source === b.source &&
    a.destination === b.destination &&
    a.routingKey === b.routingKey &&
    tablesEqual(a.arguments, b.arguments)
  );
}

export function tablesEqual(a: FieldTable, b: FieldTable): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || !fieldValuesEqual(v, w)) return false;
  }
  return true;
}

/**
 * Value equality for arguments and header matching: numbers compare by value
 * whatever their width (an int32 1 equals an int64 1, as Erlang's == does),
 * strings and byte arrays by content, tables and arrays element by element.
 */
export function fieldValuesEqual(a: FieldValue, b: FieldValue): boolean {
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== undefined || nb !== undefined) {
    if (na === undefined || nb === undefined) return false;
    return typeof na === typeof nb ? na === nb : Number(na) === Number(nb);
  }
  if (a.type === "S" || a.type === "x") {
    return (b.type === "S" || b.type === "x") && a.value.equals(b.value);
  }
  if (a.type !== b.type) return false;
  switch (a.type) {
    case "t":
      return a.value === (b.value as boolean);
    case "V":
      return true;
    case "A": {
      const bv = b.value as readonly FieldValue[];
      return a.value.length === bv.length && a.value.every((v, i) => fieldValuesEqual(v, bv[i]!));
    }
    case "F":
      return tablesEqual(a.value, b.value as FieldTable);
    default:
      return false;
  }
}

function numeric(v: FieldValue): number | bigint | undefined {
  switch (v.type) {
    case "b":
    case "B":
    case "U":
    case "s":
    case "u":
    case "I":
    case "i":
    case "f":
    case "d":
    case "l":
    case "L":
    case "T":
      return v.value;
    case "D":
      return v.value / 10 ** v.scale;
    default:
      return undefined;
  }
}
