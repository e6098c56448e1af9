import { AmqpError, connectionError } from "./amqp-error.js";
import { describeFrame, erlangBinary } from "./frame-description.js";
import { FrameType, ReplyCode } from "./generated/constants.js";
import {
  decodeMethodArgs,
  METHOD_INFO_BY_ID,
  type Method,
  type MethodInfo,
} from "./generated/methods.js";
import { Reader } from "./wire-reader.js";

/** A method with its content, when it carries one (basic.publish). */
export interface Command {
  readonly channel: number;
  readonly method: Method;
  readonly info: MethodInfo;
  /** Raw property flags and property list, copied out of the frame. */
  readonly properties?: Buffer;
  readonly body?: Buffer;
}

/**
 * An error that closes one channel while its content frames are still arriving
 * (a message over max_message_size): the rest of that message's body frames are
 * skipped so the connection stays in step.
 */
export class ContentError extends Error {
  constructor(
    readonly channel: number,
    readonly error: AmqpError,
  ) {
    super(error.message);
  }
}

interface PartialContent {
  /** Set when the message was refused: its body frames are read and dropped. */
  discard?: boolean;
  method: Method;
  info: MethodInfo;
  properties?: Buffer;
  body?: Buffer;
  bodySize: number;
  received: number;
}

/** What a command assembler needs to know from its connection. */
export interface AssemblerLimits {
  /** RabbitMQ's max_message_size: larger bodies are refused when the header announces them. */
  maxMessageBytes: number;
}

/**
 * Joins a method frame and, for content-bearing methods, the header and body frames
 * that follow on the same channel into one Command (AMQP 0-9-1 §4.2.6). Frames of
 * different channels may interleave; content frames of one channel may not.
 * The body is copied once into a buffer of its exact size, so a stored message
 * never pins a whole socket chunk in memory.
 */
export class CommandAssembler {
  private readonly partial = new Map<number, PartialContent>();

  constructor(private readonly limits: AssemblerLimits) {}

  /** Forgets a half-received message (its channel closed). */
  reset(channel: number): void {
    this.partial.delete(channel);
  }

  /** Feeds one method, header or body frame; returns a command when one is complete. */
  frame(type: number, channel: number, payload: Buffer): Command | undefined {
    const partial = this.partial.get(channel);
    if (type === FrameType.Method) {
      if (partial) throw unexpected(partial, expectation(partial));
      return this.method(channel, payload);
    }
    if (type === FrameType.Header) {
      if (!partial)
        throw unexpected(undefined, "expected method frame, got non method frame instead");
      if (partial.properties) throw unexpected(partial, expectation(partial));
      return this.header(channel, partial, payload);
    }
    if (type === FrameType.Body) {
      if (!partial)
        throw unexpected(undefined, "expected method frame, got non method frame instead");
      if (!partial.properties) throw unexpected(partial, expectation(partial));
      return this.body(channel, partial, payload);
    }
    throw connectionError(ReplyCode.FRAME_ERROR, `${describeFrame(type, payload)}: unknown_frame`);
  }

  private method(channel: number, payload: Buffer): Command | undefined {
    const r = new Reader(payload);
    const id = r.long();
    const info = METHOD_INFO_BY_ID.get(id);
    if (!info?.serverReceives) {
      const classId = id >>> 16;
      const methodId = id & 0xffff;
      throw new AmqpError(
        info ? ReplyCode.COMMAND_INVALID : ReplyCode.NOT_IMPLEMENTED,
        info
          ? `COMMAND_INVALID - the client may not send ${info.name}`
          : `NOT_IMPLEMENTED - unknown method {${classId},${methodId}}`,
        classId,
        methodId,
        "connection",
      );
    }
    let method: Method | undefined;
    try {
      method = decodeMethodArgs(id, r);
    } catch (e) {
      // RabbitMQ names a bad short string as such; any other decode failure is "cannot decode".
      if (e instanceof AmqpError && e.replyText.includes("Malformed UTF-8")) throw e;
      if (e instanceof AmqpError) throw cannotDecode(info, payload);
      throw e;
    }
    if (!method) throw new Error(`decoder missing for ${info.name}`);
    // Bytes after the last argument: RabbitMQ's decoder refuses those too.
    if (r.remaining > 0) throw cannotDecode(info, payload);
    if (info.hasContent) {
      this.partial.set(channel, { method, info, bodySize: 0, received: 0 });
      return undefined;
    }
    return { channel, method, info };
  }

  private header(channel: number, partial: PartialContent, payload: Buffer): Command | undefined {
    const r = new Reader(payload);
    const classId = r.short();
    if (classId !== partial.info.classId) {
      throw unexpected(
        partial,
        `expected content header for class ${partial.info.classId}, got one for class ${classId} instead`,
      );
    }
    // The weight must be 0 (AMQP 0-9-1 §4.2.6.1); RabbitMQ treats anything else as a non-header.
    if (r.short() !== 0) throw unexpected(partial, expectation(partial));
    const bodySize = r.longlong();
    if (bodySize > this.limits.maxMessageBytes) {
      partial.properties = Buffer.alloc(0);
      partial.bodySize = bodySize;
      partial.discard = true;
      if (bodySize === 0) this.partial.delete(channel);
      // RabbitMQ closes the channel, not the connection (406 in check_msg_size).
      throw new ContentError(
        channel,
        new AmqpError(
          ReplyCode.PRECONDITION_FAILED,
          `PRECONDITION_FAILED - message size ${bodySize} is larger than configured max size ${this.limits.maxMessageBytes}`,
          partial.info.classId,
          partial.info.methodId,
          "channel",
        ),
      );
    }
    if (r.remaining < 2)
      throw connectionError(ReplyCode.FRAME_ERROR, "content header is missing its property flags");
    partial.properties = Buffer.from(payload.subarray(r.pos));
    partial.bodySize = bodySize;
    if (bodySize === 0) return this.complete(channel, partial, Buffer.alloc(0));
    return undefined;
  }

  private body(channel: number, partial: PartialContent, payload: Buffer): Command | undefined {
    const received = partial.received + payload.length;
    if (partial.discard) {
      partial.received = received;
      if (received >= partial.bodySize) this.partial.delete(channel);
      return undefined;
    }
    if (received > partial.bodySize) {
      throw new AmqpError(
        ReplyCode.FRAME_ERROR,
        "FRAME_ERROR - content body frame exceeds remaining content size",
        partial.info.classId,
        partial.info.methodId,
        "connection",
      );
    }
    if (received === partial.bodySize && partial.received === 0) {
      // The usual case: the whole body in one frame.
      return this.complete(channel, partial, Buffer.from(payload));
    }
    if (!partial.body) partial.body = Buffer.allocUnsafe(partial.bodySize);
    payload.copy(partial.body, partial.received);
    partial.received = received;
    if (received === partial.bodySize) return this.complete(channel, partial, partial.body);
    return undefined;
  }

  private complete(channel: number, partial: PartialContent, body: Buffer): Command {
    this.partial.delete(channel);
    return {
      channel,
      method: partial.method,
      info: partial.info,
      properties: partial.properties,
      body,
    };
  }
}

/** RabbitMQ's text for undecodable method arguments: the argument bytes, as an Erlang binary. */
function cannotDecode(info: MethodInfo, payload: Buffer): AmqpError {
  return new AmqpError(
    ReplyCode.FRAME_ERROR,
    `FRAME_ERROR - cannot decode ${erlangBinary(payload.subarray(4, 4 + 64))}`,
    info.classId,
    info.methodId,
    "connection",
  );
}

function expectation(partial: PartialContent): string {
  return partial.properties
    ? "expected content body, got non content body frame instead"
    : `expected content header for class ${partial.info.classId}, got non content header frame instead`;
}

function unexpected(partial: PartialContent | undefined, text: string): AmqpError {
  return new AmqpError(
    ReplyCode.UNEXPECTED_FRAME,
    `UNEXPECTED_FRAME - ${text}`,
    partial?.info.classId ?? 0,
    partial?.info.methodId ?? 0,
    "connection",
  );
}
