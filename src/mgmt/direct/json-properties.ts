import { decodeProperties, encodeProperties } from "../../protocol/content-properties.js";
import { fromPlainJson, toPlainJson } from "../../protocol/field-table-json.js";
import type { BasicProperties } from "../../protocol/generated/properties.js";
import { badRequest } from "../http/http-types.js";

const STRING_PROPS: [keyof BasicProperties, string][] = [
  ["contentType", "content_type"],
  ["contentEncoding", "content_encoding"],
  ["correlationId", "correlation_id"],
  ["replyTo", "reply_to"],
  ["expiration", "expiration"],
  ["messageId", "message_id"],
  ["type", "type"],
  ["userId", "user_id"],
  ["appId", "app_id"],
  ["clusterId", "cluster_id"],
];

function octet(name: string, v: unknown): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 255) {
    throw badRequest(`${name} must be an integer from 0 to 255, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Message properties from RabbitMQ's management JSON ("delivery_mode", "headers", ...), as raw bytes. */
export function propertiesFromJson(json: Record<string, unknown>): Buffer {
  const p: BasicProperties = {};
  for (const [field, key] of STRING_PROPS) {
    const v = json[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" && typeof v !== "number") throw badRequest(`${key} must be a string`);
    // Short strings on the wire: what a consumer could not be sent is refused here.
    if (Buffer.byteLength(String(v)) > 255) throw badRequest(`${key} is longer than 255 bytes`);
    (p as Record<string, unknown>)[field] = String(v);
  }
  if (json.delivery_mode !== undefined) p.deliveryMode = octet("delivery_mode", json.delivery_mode);
  if (json.priority !== undefined) p.priority = octet("priority", json.priority);
  if (json.timestamp !== undefined) {
    const t = typeof json.timestamp === "string" ? Number(json.timestamp) : json.timestamp;
    if (typeof t !== "number" || !Number.isSafeInteger(t) || t < 0)
      throw badRequest("timestamp must be seconds since 1970");
    p.timestamp = BigInt(t);
  }
  if (json.headers !== undefined && json.headers !== null) {
    if (typeof json.headers !== "object" || Array.isArray(json.headers))
      throw badRequest("headers must be an object");
    p.headers = fromPlainJson(json.headers as Record<string, unknown>);
  }
  try {
    return encodeProperties(p);
  } catch (e) {
    // Only the headers are left that could fail: a key over 255 bytes, at any depth.
    if (e instanceof RangeError)
      throw badRequest(`headers cannot be sent in an AMQP frame: ${e.message}`);
    throw e;
  }
}

/**
 * Raw message properties as RabbitMQ's management JSON. RabbitMQ writes a message
 * without properties as [] (an empty Erlang proplist), and tools expect that.
 */
export function propertiesToJson(raw: Buffer): Record<string, unknown> | [] {
  const p = decodeProperties(raw);
  const out: Record<string, unknown> = {};
  for (const [field, key] of STRING_PROPS) {
    const v = p[field];
    if (v !== undefined) out[key] = v;
  }
  if (p.deliveryMode !== undefined) out.delivery_mode = p.deliveryMode;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.timestamp !== undefined) out.timestamp = Number(p.timestamp);
  if (p.headers !== undefined) out.headers = toPlainJson(p.headers);
  return Object.keys(out).length === 0 ? [] : out;
}

/** A body as RabbitMQ's queue get answers it: "auto" is a string when it is valid UTF-8. */
export function encodePayload(
  body: Buffer,
  encoding: string,
): { payload: string; payload_encoding: "string" | "base64" } {
  if (encoding === "auto") {
    const text = new TextDecoder("utf-8", { fatal: false }).decode(body);
    if (Buffer.from(text, "utf8").equals(body))
      return { payload: text, payload_encoding: "string" };
  }
  return { payload: body.toString("base64"), payload_encoding: "base64" };
}

/** A published body from "payload" and "payload_encoding" (string or base64). */
export function decodePayload(payload: unknown, encoding: unknown): Buffer {
  if (typeof payload !== "string") throw badRequest("payload_not_string");
  if (encoding === undefined || encoding === "string") return Buffer.from(payload, "utf8");
  if (encoding === "base64") return Buffer.from(payload, "base64");
  // JSON.stringify: String() of {"toString": 1} throws.
  throw badRequest(`unsupported_encoding ${JSON.stringify(encoding)}`);
}
