/**
 * The bytes of classic-queue forwarding between nodes (docs/CLUSTER.md, "Classic queues in
 * a cluster"). Two kinds of traffic share the cluster links:
 *
 * - requests with an answer (PeerRequests): publish, consume, get, counts, purge;
 * - one-way frames of type QUEUE_FRAME, each an op byte then its fields: a delivery or a
 *   cancel from the home to the node of the consumer, credit, settles and cancels back.
 *
 * Queues are named by vhost, name and store id: the id tells a queue from a later one of the
 * same name, so a request that crossed a delete and a redeclare reaches nothing.
 */
import { WireReader } from "../transport/wire-reader.js";
import { WireWriter } from "../transport/wire-writer.js";

/** The one-way frame type (after PeerRequests' 32 and 33). */
export const QUEUE_FRAME = 34;

/** Request kinds served by the home of a queue. */
export const QueueRequest = {
  publish: 10,
  consume: 11,
  get: 12,
  counts: 13,
  purge: 14,
  /** A declaration on another node: the counts, and the x-expires lease renewed. */
  declare: 15,
} as const;

export const FrameOp = {
  deliver: 1,
  cancelled: 2,
  credit: 3,
  settle: 4,
  cancel: 5,
  reply: 6,
} as const;

export type SettleOutcome = "ack" | "requeue" | "reject";
const SETTLE_CODES: readonly SettleOutcome[] = ["ack", "requeue", "reject"];

export interface QueueRef {
  readonly vhost: string;
  readonly name: string;
  readonly storeId: number;
}

/** A message as it crosses to its home: what the home needs to build its own copy. */
export interface WireMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Uint8Array;
  readonly body: Uint8Array;
  readonly arrivedAtMs: number;
}

/** One delivery from the home: to a consumer (deliver frame) or to a basic.get. */
export interface WireDelivery {
  readonly deliveryId: number;
  readonly redelivered: boolean;
  readonly deliveryCount: number;
  readonly exchange: string;
  readonly routingKey: string;
  /** The properties as the home delivers them (x-delivery-count added there). */
  readonly properties: Uint8Array;
  readonly body: Uint8Array;
}

export interface ConsumeRequest {
  readonly consumerId: number;
  readonly queue: QueueRef;
  readonly tag: string;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  readonly priority: number;
  readonly prefetchCount: number;
  /** The consumer's arguments as tagged JSON (protocol/field-table-json.ts). */
  readonly argumentsJson: string;
  /** How many deliveries the home may send before it hears more credit. */
  readonly credit: number;
}

/** An AMQP error the home answered with (404, 403, ...): the requester raises it as its own. */
export interface WireError {
  readonly code: number;
  readonly text: string;
}

export type QueueFrame =
  | ({ readonly op: typeof FrameOp.deliver; readonly consumerId: number } & WireDelivery)
  | { readonly op: typeof FrameOp.cancelled; readonly consumerId: number; readonly reason: string }
  | { readonly op: typeof FrameOp.credit; readonly consumerId: number; readonly credit: number }
  | {
      readonly op: typeof FrameOp.settle;
      readonly outcome: SettleOutcome;
      readonly deliveryIds: readonly number[];
    }
  | { readonly op: typeof FrameOp.cancel; readonly consumerId: number }
  /** A direct reply-to reply for a reply consumer of the receiving node. */
  | ({ readonly op: typeof FrameOp.reply; readonly key: string } & WireMessage);

// ------------------------------------------------------------------ pieces

function writeRef(w: WireWriter, q: QueueRef): WireWriter {
  return w.string(q.vhost).string(q.name).u64(q.storeId);
}

function readRef(r: WireReader): QueueRef {
  return { vhost: r.string("a vhost"), name: r.string("a queue name"), storeId: r.u64("an id") };
}

function writeDelivery(w: WireWriter, d: WireDelivery): WireWriter {
  return w
    .u32(d.deliveryId)
    .u8(d.redelivered ? 1 : 0)
    .u32(d.deliveryCount)
    .string(d.exchange)
    .string(d.routingKey)
    .bytes(d.properties)
    .bytes(d.body);
}

function readDelivery(r: WireReader): WireDelivery {
  return {
    deliveryId: r.u32(),
    redelivered: r.bool(),
    deliveryCount: r.u32(),
    exchange: r.string(),
    routingKey: r.string(),
    properties: r.bytes(),
    body: r.bytes(),
  };
}

function writeError(w: WireWriter, e: WireError): WireWriter {
  return w.u32(e.code).string(e.text);
}

function readError(r: WireReader): WireError {
  return { code: r.u32(), text: r.string() };
}

// ------------------------------------------------------------------ frames

export function encodeFrame(f: QueueFrame): Buffer {
  const bodyBytes = f.op === FrameOp.deliver || f.op === FrameOp.reply ? f.body.byteLength : 0;
  const w = new WireWriter(64 + bodyBytes).u8(f.op);
  switch (f.op) {
    case FrameOp.deliver:
      return writeDelivery(w.u32(f.consumerId), f).finish();
    case FrameOp.cancelled:
      return w.u32(f.consumerId).string(f.reason).finish();
    case FrameOp.credit:
      return w.u32(f.consumerId).u32(f.credit).finish();
    case FrameOp.settle: {
      w.u8(SETTLE_CODES.indexOf(f.outcome)).u32(f.deliveryIds.length);
      for (const id of f.deliveryIds) w.u32(id);
      return w.finish();
    }
    case FrameOp.cancel:
      return w.u32(f.consumerId).finish();
    case FrameOp.reply:
      return w
        .string(f.key)
        .string(f.exchange)
        .string(f.routingKey)
        .bytes(f.properties)
        .bytes(f.body)
        .u64(f.arrivedAtMs)
        .finish();
  }
}

/** Decodes a frame; throws WireError (transport/wire-reader.ts) on bytes no encoder wrote. */
export function decodeFrame(payload: Buffer): QueueFrame {
  const r = new WireReader(payload);
  const op = r.u8("an op");
  let frame: QueueFrame;
  switch (op) {
    case FrameOp.deliver:
      frame = { op, consumerId: r.u32(), ...readDelivery(r) };
      break;
    case FrameOp.cancelled:
      frame = { op, consumerId: r.u32(), reason: r.string() };
      break;
    case FrameOp.credit:
      frame = { op, consumerId: r.u32(), credit: r.u32() };
      break;
    case FrameOp.settle: {
      const outcome = SETTLE_CODES[r.u8("a settle outcome")];
      if (outcome === undefined) throw new RangeError("an unknown settle outcome");
      const n = r.count(4, "delivery ids");
      const deliveryIds: number[] = [];
      for (let i = 0; i < n; i++) deliveryIds.push(r.u32());
      frame = { op, outcome, deliveryIds };
      break;
    }
    case FrameOp.cancel:
      frame = { op, consumerId: r.u32() };
      break;
    case FrameOp.reply:
      frame = {
        op,
        key: r.string(),
        exchange: r.string(),
        routingKey: r.string(),
        properties: r.bytes(),
        body: r.bytes(),
        arrivedAtMs: r.u64(),
      };
      break;
    default:
      throw new RangeError(`an unknown queue frame op ${op}`);
  }
  r.end("a queue frame");
  return frame;
}

// ------------------------------------------------------------------ publish

export function encodePublish(queues: readonly QueueRef[], m: WireMessage): Buffer {
  const w = new WireWriter(128 + m.body.byteLength + m.properties.byteLength).u32(queues.length);
  for (const q of queues) writeRef(w, q);
  return w
    .string(m.exchange)
    .string(m.routingKey)
    .bytes(m.properties)
    .bytes(m.body)
    .u64(m.arrivedAtMs)
    .finish();
}

export function decodePublish(payload: Buffer): {
  queues: QueueRef[];
  message: WireMessage;
} {
  const r = new WireReader(payload);
  const n = r.count(16, "queues");
  const queues: QueueRef[] = [];
  for (let i = 0; i < n; i++) queues.push(readRef(r));
  const message: WireMessage = {
    exchange: r.string(),
    routingKey: r.string(),
    properties: r.bytes(),
    body: r.bytes(),
    arrivedAtMs: r.u64(),
  };
  r.end("a publish");
  return { queues, message };
}

/** The home's answer to a publish: accepted (safe as its queues promise) or refused. */
export type PublishAnswer =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly reason: string; readonly detail: string };

export function encodePublishAnswer(a: PublishAnswer): Buffer {
  const w = new WireWriter(64).u8(a.accepted ? 1 : 0);
  if (!a.accepted) w.string(a.reason).string(a.detail);
  return w.finish();
}

export function decodePublishAnswer(payload: Buffer): PublishAnswer {
  const r = new WireReader(payload);
  const answer: PublishAnswer = r.bool()
    ? { accepted: true }
    : { accepted: false, reason: r.string(), detail: r.string() };
  r.end("a publish answer");
  return answer;
}

// ------------------------------------------------------------------ consume

export function encodeConsume(c: ConsumeRequest): Buffer {
  return writeRef(new WireWriter(128).u32(c.consumerId), c.queue)
    .string(c.tag)
    .u8(c.noAck ? 1 : 0)
    .u8(c.exclusive ? 1 : 0)
    .u32(c.priority >>> 0)
    .u32(c.prefetchCount)
    .string(c.argumentsJson)
    .u32(c.credit)
    .finish();
}

export function decodeConsume(payload: Buffer): ConsumeRequest {
  const r = new WireReader(payload);
  const c: ConsumeRequest = {
    consumerId: r.u32(),
    queue: readRef(r),
    tag: r.string(),
    noAck: r.bool(),
    exclusive: r.bool(),
    priority: r.u32() | 0,
    prefetchCount: r.u32(),
    argumentsJson: r.string(),
    credit: r.u32(),
  };
  r.end("a consume");
  return c;
}

/** Ok, or the AMQP error the home refused with. */
export function encodeResult(error: WireError | undefined): Buffer {
  const w = new WireWriter(64).u8(error ? 1 : 0);
  if (error) writeError(w, error);
  return w.finish();
}

export function decodeResult(payload: Buffer): WireError | undefined {
  const r = new WireReader(payload);
  const error = r.bool() ? readError(r) : undefined;
  r.end("a result");
  return error;
}

// ------------------------------------------------------------------ get

export function encodeGet(queue: QueueRef, noAck: boolean): Buffer {
  return writeRef(new WireWriter(64), queue)
    .u8(noAck ? 1 : 0)
    .finish();
}

export function decodeGet(payload: Buffer): { queue: QueueRef; noAck: boolean } {
  const r = new WireReader(payload);
  const get = { queue: readRef(r), noAck: r.bool() };
  r.end("a get");
  return get;
}

export type GetAnswer =
  | { readonly kind: "empty"; readonly messageCount: number }
  | { readonly kind: "delivery"; readonly delivery: WireDelivery; readonly messageCount: number }
  | { readonly kind: "error"; readonly error: WireError };

export function encodeGetAnswer(a: GetAnswer): Buffer {
  const w = new WireWriter(a.kind === "delivery" ? 64 + a.delivery.body.byteLength : 64);
  if (a.kind === "empty") w.u8(0).u32(a.messageCount);
  else if (a.kind === "delivery") writeDelivery(w.u8(1).u32(a.messageCount), a.delivery);
  else writeError(w.u8(2), a.error);
  return w.finish();
}

export function decodeGetAnswer(payload: Buffer): GetAnswer {
  const r = new WireReader(payload);
  const kind = r.u8("a get answer");
  let answer: GetAnswer;
  if (kind === 0) answer = { kind: "empty", messageCount: r.u32() };
  else if (kind === 1) {
    const messageCount = r.u32();
    answer = { kind: "delivery", messageCount, delivery: readDelivery(r) };
  } else if (kind === 2) answer = { kind: "error", error: readError(r) };
  else throw new RangeError(`an unknown get answer ${kind}`);
  r.end("a get answer");
  return answer;
}

// ------------------------------------------------------------------ counts and purge

export function encodeRefs(queues: readonly QueueRef[]): Buffer {
  const w = new WireWriter(32 + 48 * queues.length).u32(queues.length);
  for (const q of queues) writeRef(w, q);
  return w.finish();
}

export function decodeRefs(payload: Buffer): QueueRef[] {
  const r = new WireReader(payload);
  const n = r.count(16, "queues");
  const queues: QueueRef[] = [];
  for (let i = 0; i < n; i++) queues.push(readRef(r));
  r.end("queue names");
  return queues;
}

export function encodePurgeAnswer(a: { count: number } | WireError): Buffer {
  return "code" in a ? writeError(new WireWriter(64).u8(1), a).finish() : encodeCount(a.count);
}

function encodeCount(count: number): Buffer {
  return new WireWriter(8).u8(0).u32(count).finish();
}

export function decodePurgeAnswer(payload: Buffer): { count: number } | WireError {
  const r = new WireReader(payload);
  const answer = r.bool() ? readError(r) : { count: r.u32() };
  r.end("a purge answer");
  return answer;
}

/** The home's figures of each queue asked for (null: it has no such queue), as JSON. */
export function encodeCountsAnswer(stats: readonly (object | null)[]): Buffer {
  return Buffer.from(JSON.stringify(stats), "utf8");
}

/** The figures a home answered; RangeError for anything that is not a JSON list. */
export function decodeCountsAnswer(payload: Buffer): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString("utf8"));
  } catch (e) {
    throw new RangeError(`a counts answer that is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new RangeError("a counts answer that is not a list");
  return parsed;
}
