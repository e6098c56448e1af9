import {
  decodeFieldTable,
  encodeFieldTable,
  type FieldTable,
  type FieldValue,
} from "./field-table.js";
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

/** Changes to make to raw properties; every other property keeps its exact bytes. */
export interface PropertyEdits {
  /** The new headers table (replaces the old one, or adds one). */
  headers?: FieldTable;
  replyTo?: string;
  removeExpiration?: boolean;
}

/** Property fields in flag order, with how to skip each in the raw bytes. */
const LAYOUT: [flag: number, kind: "short" | "table" | "octet" | "u64"][] = [
  [PropertyFlag.ContentType, "short"],
  [PropertyFlag.ContentEncoding, "short"],
  [PropertyFlag.Headers, "table"],
  [PropertyFlag.DeliveryMode, "octet"],
  [PropertyFlag.Priority, "octet"],
  [PropertyFlag.CorrelationId, "short"],
  [PropertyFlag.ReplyTo, "short"],
  [PropertyFlag.Expiration, "short"],
  [PropertyFlag.MessageId, "short"],
  [PropertyFlag.Timestamp, "u64"],
  [PropertyFlag.Type, "short"],
  [PropertyFlag.UserId, "short"],
  [PropertyFlag.AppId, "short"],
  [PropertyFlag.ClusterId, "short"],
];

/**
 * Rewrites raw properties with the given edits, copying every untouched property
 * byte for byte (a client's bytes stay its bytes, even ones that are not UTF-8).
 * Used for dead-lettering, BCC removal, direct reply-to and x-delivery-count.
 */
export function editProperties(raw: Buffer, edits: PropertyEdits): Buffer {
  const r = new Reader(raw);
  let flags = r.short();
  const extra: number[] = [];
  for (let more = flags; (more & 1) !== 0; ) {
    more = r.short();
    extra.push(more);
  }
  const w = new Writer(raw.length + 64);
  const flagsAt = w.reserve(2);
  for (const f of extra) w.short(f);
  for (const [flag, kind] of LAYOUT) {
    const present = (flags & flag) !== 0;
    const start = r.pos;
    if (present) {
      if (kind === "short") r.skip(r.octet());
      else if (kind === "table") r.skip(r.long());
      else if (kind === "octet") r.skip(1);
      else r.skip(8);
    }
    if (flag === PropertyFlag.Headers && edits.headers) {
      encodeFieldTable(w, edits.headers);
      flags |= flag;
    } else if (flag === PropertyFlag.ReplyTo && edits.replyTo !== undefined) {
      w.shortstr(edits.replyTo);
      flags |= flag;
    } else if (flag === PropertyFlag.Expiration && edits.removeExpiration) {
      flags &= ~flag;
    } else if (present) {
      w.bytes(raw.subarray(start, r.pos));
    }
  }
  w.buf.writeUInt16BE(flags, flagsAt);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Raw properties with one header set; other properties keep their bytes. */
export function withHeader(
  raw: Buffer,
  summary: PropertySummary,
  key: string,
  value: FieldValue,
): Buffer {
  const headers = readHeaders(raw, summary);
  headers.set(key, value);
  return editProperties(raw, { headers });
}

export function encodeProperties(props: BasicProperties): Buffer {
  const w = new Writer(256);
  encodeBasicProperties(w, props);
  return Buffer.from(w.buf.subarray(0, w.pos));
}
