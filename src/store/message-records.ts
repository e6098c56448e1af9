import type { Message } from "../message/message.js";
import { summarizeProperties } from "../protocol/content-properties.js";

/** Record types of the message log. */
export const RecordType = {
  Publish: 1,
  Settle: 2,
  Delivered: 3,
} as const;

const PERSISTENT = 1;

/**
 * PUBLISH: msgId f64 | arrival time f64 (ms) | flags u8 | queue count u16 |
 * queue ids f64... | exchange (u8 length + UTF-8) | routing key (u8 length + UTF-8) |
 * properties (u32 length + raw property bytes) | body (the rest).
 * Returned as parts so the log copies the body straight into the record.
 */
export function encodePublish(
  message: Message,
  queueIds: readonly number[],
  persistent: boolean,
): Buffer[] {
  const exchange = Buffer.from(message.exchange);
  const routingKey = Buffer.from(message.routingKey);
  const size =
    8 + 8 + 1 + 2 + 8 * queueIds.length + 1 + exchange.length + 1 + routingKey.length + 4;
  const head = Buffer.allocUnsafe(size);
  let at = head.writeDoubleLE(message.id, 0);
  at = head.writeDoubleLE(message.arrivedAtMs, at);
  at = head.writeUInt8(persistent ? PERSISTENT : 0, at);
  at = head.writeUInt16LE(queueIds.length, at);
  for (const q of queueIds) at = head.writeDoubleLE(q, at);
  at = head.writeUInt8(exchange.length, at);
  at += exchange.copy(head, at);
  at = head.writeUInt8(routingKey.length, at);
  at += routingKey.copy(head, at);
  head.writeUInt32LE(message.properties.length, at);
  return [head, message.properties, message.body];
}

export interface PublishHeader {
  readonly msgId: number;
  readonly arrivedAtMs: number;
  readonly persistent: boolean;
  readonly queueIds: number[];
  /** Where the exchange name starts. */
  readonly rest: number;
}

/** The part of a PUBLISH record recovery needs, without copying the content. */
export function decodePublishHeader(payload: Buffer): PublishHeader {
  const msgId = payload.readDoubleLE(0);
  const arrivedAtMs = payload.readDoubleLE(8);
  const persistent = (payload[16]! & PERSISTENT) !== 0;
  const n = payload.readUInt16LE(17);
  const queueIds: number[] = new Array(n);
  let at = 19;
  for (let i = 0; i < n; i++, at += 8) queueIds[i] = payload.readDoubleLE(at);
  return { msgId, arrivedAtMs, persistent, queueIds, rest: at };
}

/** Offsets of the variable part: where the properties start and how long they are. */
function propertiesAt(payload: Buffer, header: PublishHeader): { at: number; length: number } {
  let at = header.rest;
  at += 1 + payload[at]!;
  at += 1 + payload[at]!;
  return { at: at + 4, length: payload.readUInt32LE(at) };
}

/** Rebuilds the Message of a PUBLISH record (copies, so the record buffer can go). */
export function decodeMessage(payload: Buffer): Message {
  const header = decodePublishHeader(payload);
  let at = header.rest;
  const exLen = payload[at++]!;
  const exchange = payload.toString("utf8", at, at + exLen);
  at += exLen;
  const rkLen = payload[at++]!;
  const routingKey = payload.toString("utf8", at, at + rkLen);
  const props = propertiesAt(payload, header);
  const properties = Buffer.from(payload.subarray(props.at, props.at + props.length));
  const body = Buffer.from(payload.subarray(props.at + props.length));
  const summary = summarizeProperties(properties);
  return {
    id: header.msgId,
    exchange,
    routingKey,
    properties,
    summary,
    body,
    persistent: summary.deliveryMode === 2,
    arrivedAtMs: header.arrivedAtMs,
  };
}

/** Body size, priority and per-message expiration of a PUBLISH record, without copying it. */
export function publishDetails(
  payload: Buffer,
  header: PublishHeader,
): { bodyBytes: number; priority: number; expiration: string | undefined } {
  const props = propertiesAt(payload, header);
  const summary = summarizeProperties(payload.subarray(props.at, props.at + props.length));
  return {
    bodyBytes: payload.length - (props.at + props.length),
    priority: summary.priority,
    expiration: summary.expiration,
  };
}

/** SETTLE: queue id f64 | msgId f64. */
export function encodeSettle(queueId: number, msgId: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeDoubleLE(queueId, 0);
  b.writeDoubleLE(msgId, 8);
  return b;
}

/** DELIVERED: queue id f64 | msgId f64 | delivery count u32. */
export function encodeDelivered(queueId: number, msgId: number, count: number): Buffer {
  const b = Buffer.allocUnsafe(20);
  b.writeDoubleLE(queueId, 0);
  b.writeDoubleLE(msgId, 8);
  b.writeUInt32LE(count, 16);
  return b;
}
