import { decodeFieldTable, type FieldTable, type FieldValue } from "./field-table.js";
import {
  type BasicProperties,
  decodeBasicProperties,
  encodeBasicProperties,
  PropertyFlag,
} from "./generated/properties.js";
import { Reader } from "./wire-reader.js";
import { Writer } from "./wire-writer.js";

/**
 * What the broker itself needs from a message's properties, read in one pass over
 * the raw property bytes without decoding the rest (DESIGN §7: keep properties as
 * the bytes they arrived as). The headers table is located, not decoded.
 */
export interface PropertySummary {
  deliveryMode: number;
  priority: number;
  expiration: string | undefined;
  userId: string | undefined;
  replyTo: string | undefined;
  /** Offset and end of the headers table body within the raw bytes, or -1 when absent. */
  headersStart: number;
  headersEnd: number;
}

/** Scans raw property bytes (flags word first). Throws an AmqpError on malformed input. */
export function summarizeProperties(raw: Buffer): PropertySummary {
  const r = new Reader(raw);
  const flags = r.short();
  for (let more = flags; (more & 1) !== 0; ) more = r.short();
  const s: PropertySummary = {
    deliveryMode: 0,
    priority: 0,
    expiration: undefined,
    userId: undefined,
    replyTo: undefined,
    headersStart: -1,
    headersEnd: -1,
  };
  if (flags & PropertyFlag.ContentType) r.skip(r.octet());
  if (flags & PropertyFlag.ContentEncoding) r.skip(r.octet());
  if (flags & PropertyFlag.Headers) {
    const len = r.long();
    s.headersStart = r.pos;
    r.skip(len);
    s.headersEnd = r.pos;
  }
  if (flags & PropertyFlag.DeliveryMode) s.deliveryMode = r.octet();
  if (flags & PropertyFlag.Priority) s.priority = r.octet();
  if (flags & PropertyFlag.CorrelationId) r.skip(r.octet());
  if (flags & PropertyFlag.ReplyTo) s.replyTo = r.shortstr();
  if (flags & PropertyFlag.Expiration) s.expiration = r.shortstr();
  if (flags & PropertyFlag.MessageId) r.skip(r.octet());
  if (flags & PropertyFlag.Timestamp) r.skip(8);
  if (flags & PropertyFlag.Type) r.skip(r.octet());
  if (flags & PropertyFlag.UserId) s.userId = r.shortstr();
  if (flags & PropertyFlag.AppId) r.skip(r.octet());
  if (flags & PropertyFlag.ClusterId) r.skip(r.octet());
  return s;
}

/** The headers table of raw properties, decoded; empty when there is none. */
export function readHeaders(raw: Buffer, summary: PropertySummary): FieldTable {
  if (summary.headersStart < 0) return new Map();
  return decodeFieldTable(raw, summary.headersStart, summary.headersEnd);
}

export function decodeProperties(raw: Buffer): BasicProperties {
  return decodeBasicProperties(new Reader(raw));
}

/** Raw properties with one header set (decodes and re-encodes; for rare paths only). */
export function withHeader(raw: Buffer, key: string, value: FieldValue): Buffer {
  const props = decodeProperties(raw);
  props.headers ??= new Map();
  props.headers.set(key, value);
  return encodeProperties(props);
}

export function encodeProperties(props: BasicProperties): Buffer {
  const w = new Writer(256);
  encodeBasicProperties(w, props);
  return Buffer.from(w.buf.subarray(0, w.pos));
}
