/**
 * What a quorum queue's Raft log holds: the commands its machine (quorum-machine.ts) applies,
 * in the shape of RabbitMQ's rabbit_fifo. Every command carries the proposer's clock (nowMs)
 * so that TTLs are judged the same on every replica; the machine keeps the largest it saw.
 *
 * Identities: a message's id is the log index of its enqueue (unique, increasing); a
 * consumer is named by its node and a key that node made up (one per basic.consume, and one
 * per node for basic.get); a publisher by its node and that node's incarnation, so that its
 * sequence numbers (for deduplicating resent proposals) start again after a restart.
 */
import { ByteReader, ByteWriter } from "../store/byte-codec.js";

export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";
export type DeadLetterStrategy = "at-most-once" | "at-least-once";

/** The queue's settings, replicated so every replica applies the same (rabbit_fifo's config). */
export interface QuorumConfig {
  /** Returns allowed before a message is dead-lettered; -1: unlimited. */
  readonly deliveryLimit: number;
  readonly maxLength: number | undefined;
  readonly maxLengthBytes: number | undefined;
  readonly overflow: Overflow;
  readonly messageTtlMs: number | undefined;
  readonly singleActiveConsumer: boolean;
  /** Whether dead-lettered messages go anywhere (a dead-letter exchange is set). */
  readonly deadLetter: boolean;
  readonly deadLetterStrategy: DeadLetterStrategy;
  /**
   * Warren's retry backoff (x-retry-delay): a returned message waits this long before it is
   * offered again, doubling with each return up to retryDelayMaxMs. Absent: no wait.
   */
  readonly retryDelayMs?: number;
  readonly retryDelayMaxMs?: number;
}

export const DEFAULT_QUORUM_CONFIG: QuorumConfig = {
  deliveryLimit: 20,
  maxLength: undefined,
  maxLengthBytes: undefined,
  overflow: "drop-head",
  messageTtlMs: undefined,
  singleActiveConsumer: false,
  deadLetter: false,
  deadLetterStrategy: "at-most-once",
};

export type QuorumCommand =
  | {
      readonly type: "enqueue";
      readonly publisher: string;
      /** The publisher's node: its dedup state goes when that node goes down. */
      readonly node: string;
      /** Per publisher, increasing; 0: not deduplicated. */
      readonly seq: number;
      readonly nowMs: number;
      /** From the message's expiration property; 0: none. */
      readonly expiresAtMs: number;
      /** Priority above 4 (RabbitMQ 4's two classes: high and normal). */
      readonly high: boolean;
      /** Body bytes, for x-max-length-bytes. */
      readonly size: number;
      /** The message, encoded by the runtime; opaque here. */
      readonly payload: Uint8Array;
    }
  | {
      readonly type: "checkout";
      readonly consumer: string;
      readonly node: string;
      readonly tag: string;
      /** Messages it may hold unsettled at once (its prefetch, or a window). */
      readonly window: number;
      readonly priority: number;
      readonly nowMs: number;
    }
  /** basic.cancel: no more deliveries; what it holds stays until settled (RabbitMQ). */
  | { readonly type: "cancel"; readonly consumer: string; readonly nowMs: number }
  /** The consumer's channel closed: what it holds goes back, unchanged delivery count. */
  | { readonly type: "remove"; readonly consumer: string; readonly nowMs: number }
  | {
      readonly type: "settle";
      readonly consumer: string;
      readonly ids: readonly number[];
      readonly nowMs: number;
    }
  /** nack/reject with requeue: back to the queue, delivery count up (or dead-lettered past the limit). */
  | {
      readonly type: "return";
      readonly consumer: string;
      readonly ids: readonly number[];
      readonly nowMs: number;
    }
  /** Back to the queue uncounted: handed to the consumer's node but never to its client. */
  | {
      readonly type: "release";
      readonly consumer: string;
      readonly ids: readonly number[];
      readonly nowMs: number;
    }
  /** nack/reject without requeue: dead-lettered (rejected) or dropped. */
  | {
      readonly type: "discard";
      readonly consumer: string;
      readonly ids: readonly number[];
      readonly nowMs: number;
    }
  /** A node is gone: its consumers' messages go back and its consumers and publishers are forgotten. */
  | { readonly type: "node-down"; readonly node: string; readonly nowMs: number }
  | {
      readonly type: "dequeue";
      readonly consumer: string;
      readonly node: string;
      readonly noAck: boolean;
      readonly nowMs: number;
    }
  | { readonly type: "purge"; readonly nowMs: number }
  /** Drops expired messages at the head (the leader proposes it when one is due). */
  | { readonly type: "expire"; readonly nowMs: number }
  | { readonly type: "config"; readonly config: QuorumConfig; readonly nowMs: number }
  /** At-least-once dead-lettering: these reached their dead-letter targets. */
  | { readonly type: "dlx-settle"; readonly ids: readonly number[]; readonly nowMs: number };

const TYPES = [
  "enqueue",
  "checkout",
  "cancel",
  "remove",
  "settle",
  "return",
  "discard",
  "node-down",
  "dequeue",
  "purge",
  "expire",
  "config",
  "dlx-settle",
  "release",
] as const;
const TYPE_CODE = new Map<string, number>(TYPES.map((t, i) => [t, i + 1]));
const OVERFLOWS: readonly Overflow[] = ["drop-head", "reject-publish", "reject-publish-dlx"];

/**
 * The enqueue, the command of every publish, written straight into one buffer of its exact
 * size (the same bytes ByteWriter would give): no chunk growing, no TextEncoder, and a buffer
 * of its own (a pooled slab would be pinned for as long as the log holds the entry).
 */
function encodeEnqueue(c: QuorumCommand & { type: "enqueue" }): Uint8Array {
  const publisherBytes = Buffer.byteLength(c.publisher);
  const nodeBytes = Buffer.byteLength(c.node);
  const size =
    1 + 8 + 4 + publisherBytes + 4 + nodeBytes + 8 + 8 + 1 + 4 + 4 + c.payload.byteLength;
  const b = Buffer.allocUnsafeSlow(size);
  let at = b.writeUInt8(TYPE_CODE.get("enqueue")!, 0);
  at = b.writeBigUInt64LE(BigInt(c.nowMs), at);
  at = b.writeUInt32LE(publisherBytes, at);
  at += b.write(c.publisher, at);
  at = b.writeUInt32LE(nodeBytes, at);
  at += b.write(c.node, at);
  at = b.writeBigUInt64LE(BigInt(c.seq), at);
  at = b.writeBigUInt64LE(BigInt(c.expiresAtMs), at);
  at = b.writeUInt8(c.high ? 1 : 0, at);
  at = b.writeUInt32LE(c.size, at);
  at = b.writeUInt32LE(c.payload.byteLength, at);
  b.set(c.payload, at);
  return b;
}

/** A number that may be absent, as u64 + 1 (0: absent). */
function optional(w: ByteWriter, value: number | undefined): void {
  w.u64(value === undefined ? 0 : value + 1);
}
function readOptional(r: ByteReader): number | undefined {
  const v = r.u64();
  return v === 0 ? undefined : v - 1;
}

function ids(w: ByteWriter, list: readonly number[]): void {
  w.u32(list.length);
  for (const id of list) w.u64(id);
}
function readIds(r: ByteReader): number[] {
  const n = r.u32();
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.u64();
  return out;
}

export function writeConfig(w: ByteWriter, c: QuorumConfig): void {
  w.u64(c.deliveryLimit + 1);
  optional(w, c.maxLength);
  optional(w, c.maxLengthBytes);
  w.u8(OVERFLOWS.indexOf(c.overflow));
  optional(w, c.messageTtlMs);
  w.u8(
    (c.singleActiveConsumer ? 1 : 0) |
      (c.deadLetter ? 2 : 0) |
      (c.deadLetterStrategy === "at-least-once" ? 4 : 0),
  );
  optional(w, c.retryDelayMs);
  optional(w, c.retryDelayMaxMs);
}

export function readConfig(r: ByteReader): QuorumConfig {
  const deliveryLimit = r.u64() - 1;
  const maxLength = readOptional(r);
  const maxLengthBytes = readOptional(r);
  const overflow = OVERFLOWS[r.u8()] ?? "drop-head";
  const messageTtlMs = readOptional(r);
  const flags = r.u8();
  const retryDelayMs = readOptional(r);
  const retryDelayMaxMs = readOptional(r);
  return {
    deliveryLimit,
    maxLength,
    maxLengthBytes,
    overflow,
    messageTtlMs,
    singleActiveConsumer: (flags & 1) !== 0,
    deadLetter: (flags & 2) !== 0,
    deadLetterStrategy: (flags & 4) !== 0 ? "at-least-once" : "at-most-once",
    ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
    ...(retryDelayMaxMs === undefined ? {} : { retryDelayMaxMs }),
  };
}

export function encodeQuorumCommand(c: QuorumCommand): Uint8Array {
  if (c.type === "enqueue") return encodeEnqueue(c);
  const w = new ByteWriter();
  w.u8(TYPE_CODE.get(c.type)!);
  w.u64(c.nowMs);
  switch (c.type) {
    case "checkout":
      w.string(c.consumer)
        .string(c.node)
        .string(c.tag)
        .u32(c.window)
        .u32(c.priority + 2 ** 31);
      break;
    case "cancel":
    case "remove":
      w.string(c.consumer);
      break;
    case "settle":
    case "return":
    case "release":
    case "discard":
      w.string(c.consumer);
      ids(w, c.ids);
      break;
    case "node-down":
      w.string(c.node);
      break;
    case "dequeue":
      w.string(c.consumer)
        .string(c.node)
        .u8(c.noAck ? 1 : 0);
      break;
    case "purge":
    case "expire":
      break;
    case "config":
      writeConfig(w, c.config);
      break;
    case "dlx-settle":
      ids(w, c.ids);
      break;
  }
  return w.finish();
}

export function decodeQuorumCommand(data: Uint8Array): QuorumCommand {
  const r = new ByteReader(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const type = TYPES[r.u8() - 1];
  const nowMs = r.u64();
  switch (type) {
    case "enqueue": {
      const publisher = r.string();
      const node = r.string();
      const seq = r.u64();
      const expiresAtMs = r.u64();
      const high = r.u8() === 1;
      const size = r.u32();
      // Its own exact-size copy: a view would keep the whole entry (or a pooled slab) alive.
      const payload = new Uint8Array(r.bytes());
      return { type, publisher, node, seq, nowMs, expiresAtMs, high, size, payload };
    }
    case "checkout": {
      const consumer = r.string();
      const node = r.string();
      const tag = r.string();
      const window = r.u32();
      const priority = r.u32() - 2 ** 31;
      return { type, consumer, node, tag, window, priority, nowMs };
    }
    case "cancel":
    case "remove":
      return { type, consumer: r.string(), nowMs };
    case "settle":
    case "return":
    case "release":
    case "discard": {
      const consumer = r.string();
      return { type, consumer, ids: readIds(r), nowMs };
    }
    case "node-down":
      return { type, node: r.string(), nowMs };
    case "dequeue": {
      const consumer = r.string();
      const node = r.string();
      return { type, consumer, node, noAck: r.u8() === 1, nowMs };
    }
    case "purge":
    case "expire":
      return { type, nowMs };
    case "config":
      return { type, config: readConfig(r), nowMs };
    case "dlx-settle":
      return { type, ids: readIds(r), nowMs };
    default:
      throw new Error(`unknown quorum queue command type ${String(type)}`);
  }
}
