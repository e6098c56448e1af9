/**
 * The metadata group's data as bytes and plain values: a command is a log entry's JSON; a
 * command's answer (its result, or its refusal as the AMQP code and text or the operator
 * message) is plain data, so a follower that forwarded a command, or the TCP transport that
 * carries the forward, can rebuild exactly the error the single node would have thrown.
 */
import { AmqpError, type ErrorScope } from "../../protocol/amqp-error.js";
import type { MetadataCommand } from "../../vhost/commands/command-types.js";
import { CommandRefusedError, type Refusal } from "../../vhost/commands/effects.js";
import type { QueueMeta } from "../../vhost/commands/metadata-state.js";
import type { LimitRefusal } from "../../vhost/limits.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeCommand(command: MetadataCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/**
 * The command an entry holds, or why it holds none. Every node decodes the same bytes the
 * same way, so a damaged or foreign entry is refused alike everywhere and changes nothing.
 */
export function decodeCommand(data: Uint8Array): MetadataCommand | CommandRefusedError {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (e) {
    return new CommandRefusedError(`malformed metadata command: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return new CommandRefusedError("malformed metadata command: not a JSON object");
  if (typeof (value as { type?: unknown }).type !== "string")
    return new CommandRefusedError("malformed metadata command: no type");
  return value as MetadataCommand;
}

/** A refusal as data: an AMQP error's code, text and attribution, or an operator message. */
export type RefusalData =
  | {
      readonly kind: "amqp";
      readonly replyCode: number;
      readonly replyText: string;
      readonly classId: number;
      readonly methodId: number;
      readonly scope: ErrorScope;
    }
  | { readonly kind: "command"; readonly message: string };

export function refusalData(e: Refusal): RefusalData {
  if (e instanceof AmqpError) {
    const { replyCode, replyText, classId, methodId, scope } = e;
    return { kind: "amqp", replyCode, replyText, classId, methodId, scope };
  }
  return { kind: "command", message: e.message };
}

/** The error the single node throws for this refusal (LocalCommands). */
export function refusalError(d: RefusalData): Refusal {
  return d.kind === "amqp"
    ? new AmqpError(d.replyCode, d.replyText, d.classId, d.methodId, d.scope)
    : new CommandRefusedError(d.message);
}

/**
 * What applying one entry gave on a node: the command's result (which may hold objects of
 * this node's state, such as a declared queue's QueueMeta), or its refusal. Noop and
 * membership entries give `{ ok: true, result: null }`.
 */
export type MetadataReply =
  | { readonly ok: true; readonly result: unknown; readonly messagesDropped: number }
  | { readonly ok: false; readonly refusal: RefusalData; readonly limit?: LimitRefusal };

/** A queue named by the state, as a reply carries it between nodes. */
export interface QueueRef {
  readonly vhost: string;
  readonly name: string;
  readonly id: number;
}

/** A reply as JSON-safe data: a queue.declare's QueueMeta becomes a reference. */
export function replyToWire(reply: MetadataReply): MetadataReply {
  if (!reply.ok) return reply;
  const result = reply.result as { queue?: QueueMeta } | null;
  if (result === null || typeof result !== "object" || result.queue === undefined) return reply;
  const q = result.queue;
  const ref: QueueRef = { vhost: q.definition.vhost, name: q.definition.name, id: q.id };
  return { ...reply, result: { ...result, queue: ref } };
}
