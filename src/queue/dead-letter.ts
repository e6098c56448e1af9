import type { Message } from "../message/message.js";
import {
  editProperties,
  readHeaders,
  summarizeProperties,
} from "../protocol/content-properties.js";
import type { FieldTable, FieldValue } from "../protocol/field-table.js";
import type { DiscardReason } from "./message-queue.js";

const S = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
const text = (v: FieldValue | undefined) =>
  v?.type === "S" || v?.type === "x" ? v.value.toString() : undefined;

/** A message made ready to be routed to a dead-letter exchange. */
export interface DeadLetter {
  readonly message: Message;
  /** The routing keys to route it with: the dead-letter routing key, or the original keys. */
  readonly routingKeys: string[];
}

/**
 * Builds the dead-lettered copy of a message, as RabbitMQ's rabbit_dead_letter
 * does: the x-death header gains (or updates) the entry for this queue and reason,
 * x-first-death-* is set on the first death and x-last-death-* on every one
 * (RabbitMQ 3.13+), a per-message expiration moves into the entry as
 * original-expiration, and with a dead-letter routing key the CC header goes.
 */
export function deadLetterMessage(
  message: Message,
  reason: DiscardReason,
  queue: string,
  deadLetterExchange: string,
  deadLetterRoutingKey: string | undefined,
  nowMs: number,
  newId: number,
): DeadLetter {
  const headers: FieldTable = readHeaders(message.properties, message.summary);
  const expiration = message.summary.expiration;
  const cc = headers.get("CC");
  const ccKeys =
    cc?.type === "A" ? cc.value.map(text).filter((k): k is string => k !== undefined) : [];
  const originalKeys = [message.routingKey, ...ccKeys];
  const info: [string, FieldValue][] = [
    ["reason", S(reason)],
    ["queue", S(queue)],
    ["time", { type: "T", value: BigInt(Math.floor(nowMs / 1000)) }],
    ["exchange", S(message.exchange)],
    ["routing-keys", { type: "A", value: originalKeys.map(S) }],
  ];
  if (expiration !== undefined) info.push(["original-expiration", S(expiration)]);
  updateXDeath(headers, info, reason, queue, message.exchange);
  headers.set("x-last-death-reason", S(reason));
  headers.set("x-last-death-queue", S(queue));
  headers.set("x-last-death-exchange", S(message.exchange));
  if (deadLetterRoutingKey !== undefined) headers.delete("CC");
  // Every other property keeps the bytes the publisher sent.
  const properties = editProperties(message.properties, { headers, removeExpiration: true });
  return {
    message: {
      id: newId,
      exchange: deadLetterExchange,
      routingKey: deadLetterRoutingKey ?? message.routingKey,
      properties,
      summary: summarizeProperties(properties),
      body: message.body,
      persistent: message.persistent,
      arrivedAtMs: nowMs,
    },
    routingKeys: deadLetterRoutingKey !== undefined ? [deadLetterRoutingKey] : originalKeys,
  };
}

function updateXDeath(
  headers: FieldTable,
  info: [string, FieldValue][],
  reason: string,
  queue: string,
  exchange: string,
): void {
  const existing = headers.get("x-death");
  if (existing?.type !== "A") {
    if (existing === undefined) {
      headers.set("x-first-death-reason", S(reason));
      headers.set("x-first-death-queue", S(queue));
      headers.set("x-first-death-exchange", S(exchange));
    }
    // None yet, or a client left something that is not an array: start over (RabbitMQ resets it).
    headers.set("x-death", {
      type: "A",
      value: [{ type: "F", value: new Map([["count", long(1)], ...info]) }],
    });
    return;
  }
  const tables = existing.value.filter(
    (v): v is Extract<FieldValue, { type: "F" }> => v.type === "F",
  );
  const match = tables.find(
    (t) => text(t.value.get("queue")) === queue && text(t.value.get("reason")) === reason,
  );
  const others = tables.filter((t) => t !== match);
  let entry: FieldTable;
  if (match) {
    // The same queue and reason again: count it, keep the rest of the first entry.
    entry = new Map(match.value);
    const count = entry.get("count");
    const n =
      count && "bBUsuIilL".includes(count.type) ? BigInt(count.value as number | bigint) : 1n;
    entry.set("count", long(n + 1n));
  } else {
    entry = new Map([["count", long(1)], ...info]);
  }
  // RabbitMQ sorts the updated entry's keys and puts it first.
  const sorted = new Map([...entry].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  headers.set("x-death", { type: "A", value: [{ type: "F", value: sorted }, ...others] });
}

function long(n: number | bigint): FieldValue {
  return { type: "l", value: BigInt(n) };
}

/**
 * RabbitMQ's cycle rule: a dead-lettered message is not delivered back to a queue it
 * already died in when the whole cycle since then was automatic (no rejection),
 * or it would go round forever. Deaths are read from the new message's x-death.
 */
export function isDeadLetterCycle(
  reason: DiscardReason,
  message: Message,
  targetQueue: string,
): boolean {
  if (reason === "rejected") return false;
  const deaths = readHeaders(message.properties, message.summary).get("x-death");
  if (deaths?.type !== "A") return false;
  const tables = deaths.value;
  const at = tables.findIndex((t) => t.type === "F" && text(t.value.get("queue")) === targetQueue);
  if (at < 0) return false;
  return tables
    .slice(0, at + 1)
    .every((t) => t.type === "F" && text(t.value.get("reason")) !== "rejected");
}
