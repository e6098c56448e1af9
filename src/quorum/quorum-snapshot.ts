/**
 * A quorum queue machine's whole state as bytes (the Raft snapshot that lets the log before
 * it go) and back. What it holds is bounded by what the queue holds: its messages, consumers,
 * publishers' last sequence numbers and pending dead-letters, never what passed through.
 */
import { ByteReader, ByteWriter } from "../store/byte-codec.js";
import { readConfig, writeConfig } from "./quorum-commands.js";
import type { DeadLetterReason, QuorumMessage } from "./quorum-machine.js";
import { QuorumMachine } from "./quorum-machine.js";

const VERSION = 1;
const REASONS: readonly DeadLetterReason[] = ["expired", "maxlen", "rejected", "delivery_limit"];
const TOTALS = [
  "enqueued",
  "delivered",
  "redelivered",
  "acked",
  "returned",
  "deadLettered",
  "dropped",
] as const;

export function encodeQuorumSnapshot(m: QuorumMachine): Uint8Array {
  const w = new ByteWriter();
  w.u8(VERSION).u64(m.nowMs).u64(m.highStreak).u64(m.serveClock).u64(m.orderClock);
  for (const key of TOTALS) w.u64(m.totals[key]);
  writeConfig(w, m.config);
  w.u32(m.messages.size);
  for (const message of m.messages.values()) {
    w.u64(message.id)
      .u32(message.size)
      .u8(message.high ? 1 : 0);
    w.u64(Number.isFinite(message.expiresAtMs) ? message.expiresAtMs + 1 : 0);
    w.u32(message.deliveryCount).u32(message.acquired).bytes(message.payload);
  }
  for (const line of [m.returns, m.high, m.normal]) {
    w.u32(line.length);
    for (const message of line.toArray()) w.u64(message.id);
  }
  w.u32(m.consumers.size);
  for (const c of m.consumers.values()) {
    w.string(c.key)
      .string(c.node)
      .string(c.tag)
      .u32(c.window)
      .u32(c.priority + 2 ** 31);
    w.u8((c.cancelled ? 1 : 0) | (c.getter ? 2 : 0))
      .u64(c.order)
      .u64(c.served);
    w.u32(c.checkedOut.size);
    for (const id of c.checkedOut.keys()) w.u64(id);
  }
  w.u32(m.publishers.size);
  for (const [key, p] of m.publishers) {
    w.string(key).string(p.node).u64(p.seq).u32(p.refused.length);
    for (const seq of p.refused) w.u64(seq);
  }
  w.u32(m.dlxPending.size);
  for (const d of m.dlxPending.values()) w.u64(d.id).u8(REASONS.indexOf(d.reason));
  w.u32(m.delayed.length);
  for (const d of m.delayed) w.u64(d.message.id).u64(d.dueAtMs);
  return w.finish();
}

/** The machine a snapshot describes; empty bytes: a new queue's empty machine. */
export function decodeQuorumSnapshot(data: Uint8Array): QuorumMachine {
  const m = new QuorumMachine();
  if (data.byteLength === 0) return m;
  const r = new ByteReader(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const version = r.u8();
  if (version !== VERSION) throw new Error(`quorum queue snapshot version ${version} is not known`);
  m.nowMs = r.u64();
  m.highStreak = r.u64();
  m.serveClock = r.u64();
  m.orderClock = r.u64();
  for (const key of TOTALS) m.totals[key] = r.u64();
  m.config = readConfig(r);
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const id = r.u64();
    const size = r.u32();
    const high = r.u8() === 1;
    const expiry = r.u64();
    const deliveryCount = r.u32();
    const acquired = r.u32();
    const payload = Buffer.from(r.bytes());
    const message: QuorumMessage = {
      id,
      payload,
      size,
      high,
      expiresAtMs: expiry === 0 ? Number.POSITIVE_INFINITY : expiry - 1,
      deliveryCount,
      acquired,
    };
    m.messages.set(id, message);
  }
  const byId = (id: number): QuorumMessage => {
    const message = m.messages.get(id);
    if (message === undefined)
      throw new Error(`quorum queue snapshot names message ${id} it does not hold`);
    return message;
  };
  for (const line of [m.returns, m.high, m.normal]) {
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const message = byId(r.u64());
      line.push(message);
      m.readyBytes += message.size;
    }
  }
  const consumers = r.u32();
  for (let i = 0; i < consumers; i++) {
    const key = r.string();
    const node = r.string();
    const tag = r.string();
    const window = r.u32();
    const priority = r.u32() - 2 ** 31;
    const flags = r.u8();
    const order = r.u64();
    const served = r.u64();
    const checkedOut = new Map<number, QuorumMessage>();
    const held = r.u32();
    for (let j = 0; j < held; j++) {
      const message = byId(r.u64());
      checkedOut.set(message.id, message);
      m.checkedOutCount++;
      m.checkedOutBytes += message.size;
    }
    m.consumers.set(key, {
      key,
      node,
      tag,
      window,
      priority,
      cancelled: (flags & 1) !== 0,
      getter: (flags & 2) !== 0,
      order,
      served,
      checkedOut,
    });
  }
  const publishers = r.u32();
  for (let i = 0; i < publishers; i++) {
    const key = r.string();
    const node = r.string();
    const seq = r.u64();
    const refused: number[] = [];
    for (let n = r.u32(); n > 0; n--) refused.push(r.u64());
    m.publishers.set(key, { node, seq, refused });
  }
  const pending = r.u32();
  for (let i = 0; i < pending; i++) {
    const message = byId(r.u64());
    const reason = REASONS[r.u8()] ?? "rejected";
    m.dlxPending.set(message.id, {
      id: message.id,
      payload: message.payload,
      deliveryCount: message.deliveryCount,
      reason,
    });
  }
  const delayed = r.u32();
  for (let i = 0; i < delayed; i++) {
    const message = byId(r.u64());
    m.delayed.push({ message, dueAtMs: r.u64() });
    m.delayedBytes += message.size;
  }
  return m;
}
