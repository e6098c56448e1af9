/**
 * The bytes quorum queues send between nodes (docs/QUORUM.md):
 *
 * - a proposal forwarded to the node whose replica leads the queue's group (request kind
 *   QUORUM_PROPOSE), answered with the machine's reply once the command is applied there, or
 *   with why not (not the leader: try this one; no answer could be had);
 * - deliveries from the leader to the node of the consumer (one-way frame QUORUM_FRAME);
 * - the leader's counts of a queue (request kind QUORUM_STAT), for a declare-ok anywhere: a
 *   follower's replica may not have applied the last commands yet.
 *
 * A queue is named by its Raft group id, which holds its store id: a late frame for a deleted
 * queue reaches nothing.
 */
import type { QuorumDelivery, QuorumReply } from "../../quorum/quorum-machine.js";
import { WireError, WireReader } from "../transport/wire-reader.js";
import { WireWriter } from "../transport/wire-writer.js";

/** One-way frames: after classic forwarding's 34 (and 35, kept free for it). */
export const QUORUM_FRAME = 36;
/** Request kinds (classic forwarding uses 10-15, membership 40). */
export const QuorumRequest = {
  propose: 20,
  /** The leader's counts for a declare-ok. */
  stat: 21,
  /** A member change (add_member, delete_member) or leadership transfer asked of the queue's leader. */
  member: 22,
} as const;

const MEMBER_CHANGES = ["add", "delete", "transfer"] as const;

/** `final`: the receiver must not forward it again (it was sent to the leader it named). */
export function encodeMemberRequest(
  groupId: string,
  change: "add" | "delete" | "transfer",
  node: string,
  final: boolean,
): Buffer {
  return new WireWriter(128)
    .string(groupId)
    .u8(MEMBER_CHANGES.indexOf(change) + 1)
    .string(node)
    .u8(final ? 1 : 0)
    .finish();
}

export function decodeMemberRequest(payload: Buffer): {
  groupId: string;
  change: "add" | "delete" | "transfer";
  node: string;
  final: boolean;
} {
  const r = new WireReader(payload);
  const groupId = r.string("a group id");
  const change = MEMBER_CHANGES[r.u8("a change") - 1];
  if (change === undefined) throw new WireError("a member change of an unknown kind");
  const node = r.string("a node");
  const final = r.u8("a flag") === 1;
  r.end("a member request");
  return { groupId, change, node, final };
}

export type ProposeAnswer =
  | { readonly status: "applied"; readonly reply: QuorumReply }
  /** This node's replica does not lead; the leader it knows (null: none known). */
  | { readonly status: "not-leader"; readonly leader: string | null }
  /** The command's fate is unknown or it could not be proposed (log failed, group gone). */
  | { readonly status: "failed"; readonly detail: string };

export function encodeProposal(groupId: string, command: Uint8Array): Buffer {
  return new WireWriter(command.byteLength + 64).string(groupId).bytes(command).finish();
}

export function decodeProposal(payload: Buffer): { groupId: string; command: Uint8Array } {
  const r = new WireReader(payload);
  const groupId = r.string("a group id");
  const command = r.bytes("a command");
  r.end("a quorum proposal");
  return { groupId, command };
}

/** The leader's ready messages and consumers, or who leads (null: none known). */
export type StatAnswer =
  | { readonly status: "counts"; readonly messageCount: number; readonly consumerCount: number }
  | { readonly status: "not-leader"; readonly leader: string | null };

export function encodeStatRequest(groupId: string): Buffer {
  return new WireWriter(64).string(groupId).finish();
}

export function decodeStatRequest(payload: Buffer): string {
  const r = new WireReader(payload);
  const groupId = r.string("a group id");
  r.end("a quorum stat request");
  return groupId;
}

export function encodeStatAnswer(answer: StatAnswer): Buffer {
  const w = new WireWriter(32);
  if (answer.status === "not-leader")
    return w
      .u8(1)
      .string(answer.leader ?? "")
      .finish();
  return w.u8(0).u64(answer.messageCount).u32(answer.consumerCount).finish();
}

export function decodeStatAnswer(payload: Buffer): StatAnswer {
  const r = new WireReader(payload);
  if (r.u8("a status") === 1) {
    const leader = r.string("a leader");
    r.end("a quorum stat answer");
    return { status: "not-leader", leader: leader === "" ? null : leader };
  }
  const messageCount = r.u64("a count");
  const consumerCount = r.u32("a count");
  r.end("a quorum stat answer");
  return { status: "counts", messageCount, consumerCount };
}

const REPLY_TYPES = ["enqueue", "dequeue", "purge", "done"] as const;

function writeDelivery(w: WireWriter, d: QuorumDelivery): void {
  w.u64(d.id)
    .u32(d.attempt)
    .u32(d.deliveryCount)
    .u8(d.redelivered ? 1 : 0)
    .bytes(d.payload);
}

function readDelivery(r: WireReader): QuorumDelivery {
  const id = r.u64("a message id");
  const attempt = r.u32("an attempt");
  const deliveryCount = r.u32("a delivery count");
  const redelivered = r.u8("a flag") === 1;
  const payload = r.bytes("a message");
  return { id, attempt, deliveryCount, redelivered, payload };
}

export function encodeAnswer(answer: ProposeAnswer): Buffer {
  const w = new WireWriter(64);
  switch (answer.status) {
    case "not-leader":
      w.u8(1).string(answer.leader ?? "");
      return w.finish();
    case "failed":
      w.u8(2).string(answer.detail);
      return w.finish();
    case "applied":
      break;
  }
  const reply = answer.reply;
  w.u8(0).u8(REPLY_TYPES.indexOf(reply.type));
  switch (reply.type) {
    case "enqueue":
      w.u8((reply.accepted ? 1 : 0) | (reply.duplicate ? 2 : 0) | (reply.outOfSequence ? 4 : 0));
      break;
    case "dequeue":
      w.u64(reply.remaining).u8(reply.delivery === undefined ? 0 : 1);
      if (reply.delivery !== undefined) writeDelivery(w, reply.delivery);
      break;
    case "purge":
      w.u64(reply.purged);
      break;
    case "done":
      break;
  }
  return w.finish();
}

export function decodeAnswer(payload: Buffer): ProposeAnswer {
  const r = new WireReader(payload);
  const status = r.u8("a status");
  if (status === 1) {
    const leader = r.string("a leader");
    return { status: "not-leader", leader: leader === "" ? null : leader };
  }
  if (status === 2) return { status: "failed", detail: r.string("a detail") };
  const type = REPLY_TYPES[r.u8("a reply type")];
  switch (type) {
    case "enqueue": {
      const flags = r.u8("flags");
      const reply = {
        type,
        accepted: (flags & 1) !== 0,
        duplicate: (flags & 2) !== 0,
        ...((flags & 4) !== 0 ? { outOfSequence: true } : {}),
      } as const;
      return { status: "applied", reply };
    }
    case "dequeue": {
      const remaining = r.u64("a count");
      const delivery = r.u8("a flag") === 1 ? readDelivery(r) : undefined;
      return { status: "applied", reply: { type, delivery, remaining } };
    }
    case "purge":
      return { status: "applied", reply: { type, purged: r.u64("a count") } };
    default:
      return { status: "applied", reply: { type: "done" } };
  }
}

/** Deliveries for one consumer: from the leader's node to the consumer's. */
export interface DeliverFrame {
  readonly groupId: string;
  readonly consumer: string;
  readonly deliveries: readonly QuorumDelivery[];
}

export function encodeDeliverFrame(frame: DeliverFrame): Buffer {
  const w = new WireWriter(1_024);
  w.string(frame.groupId).string(frame.consumer).u32(frame.deliveries.length);
  for (const d of frame.deliveries) writeDelivery(w, d);
  return w.finish();
}

export function decodeDeliverFrame(payload: Buffer): DeliverFrame {
  const r = new WireReader(payload);
  const groupId = r.string("a group id");
  const consumer = r.string("a consumer");
  const n = r.count(21, "deliveries");
  const deliveries: QuorumDelivery[] = [];
  for (let i = 0; i < n; i++) deliveries.push(readDelivery(r));
  r.end("a quorum delivery frame");
  return { groupId, consumer, deliveries };
}
