import type { FieldTable } from "../../protocol/field-table.js";
import { toPlainJson } from "../../protocol/field-table-json.js";

/**
 * The RabbitMQ version whose management API, metrics and CLI output Warren speaks.
 * Tools read `rabbitmq_version` to pick features; product_name/product_version say
 * what the broker really is.
 */
export const RABBITMQ_API_VERSION = "3.13.7";

export type Json = Record<string, unknown>;

/** RabbitMQ's rate objects ("messages_details": {"rate": 0.0}). */
export function details(rate = 0): { rate: number } {
  return { rate };
}

/** A field table as RabbitMQ's management JSON (plain values). */
export function tableJson(table: FieldTable): Json {
  return toPlainJson(table);
}

/** RabbitMQ's idle_since format: "2026-11-22T04:44:20.908+00:00". */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+00:00");
}

/**
 * Erlang's io_lib quote_plus as RabbitMQ's binding properties keys use it: letters,
 * digits and "_.-" stay, space becomes "+", the rest is %XX per UTF-8 byte, and "~"
 * is escaped too (it separates the key from the arguments hash).
 */
export function quotePlus(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.-]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Keys sorted, as RabbitMQ's JSON encoder writes proplists (easier to diff against it). */
export function sorted(obj: Json): Json {
  const out: Json = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out;
}
