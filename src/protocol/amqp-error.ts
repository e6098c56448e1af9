import { isHardError, ReplyCode } from "./generated/constants.js";

/** Whether an error closes one channel or the whole connection. */
export type ErrorScope = "channel" | "connection";

/**
 * An AMQP error as a value: the reply code and text that the peer will see in
 * channel.close or connection.close, plus the class and method that caused it.
 * AMQP 0-9-1 §1.2 (constants): soft errors close the channel, hard errors the
 * connection; a few soft codes are sent at connection level (login refused), so
 * the scope can be given explicitly.
 */
export class AmqpError extends Error {
  readonly scope: ErrorScope;

  constructor(
    readonly replyCode: number,
    readonly replyText: string,
    readonly classId = 0,
    readonly methodId = 0,
    scope?: ErrorScope,
  ) {
    super(`${replyCode} ${replyText}`);
    this.name = "AmqpError";
    this.scope = scope ?? (isHardError(replyCode) ? "connection" : "channel");
  }

  /** The same error attributed to the method that caused it. */
  during(classId: number, methodId: number): AmqpError {
    if (this.classId !== 0 || this.methodId !== 0) return this;
    return new AmqpError(this.replyCode, this.replyText, classId, methodId, this.scope);
  }
}

/** Reply texts start with the code's name, as RabbitMQ writes them: "NOT_FOUND - no queue 'q' ...". */
export function replyText(code: number, detail: string): string {
  const name = REPLY_NAMES.get(code) ?? "INTERNAL_ERROR";
  return `${name} - ${detail}`;
}

const REPLY_NAMES = new Map<number, string>(
  Object.entries(ReplyCode).map(([name, code]) => [code, name]),
);

export function channelError(code: number, detail: string): AmqpError {
  return new AmqpError(code, replyText(code, detail), 0, 0, "channel");
}

export function connectionError(code: number, detail: string): AmqpError {
  return new AmqpError(code, replyText(code, detail), 0, 0, "connection");
}

/** Reply texts are short strings: longer ones are cut to 252 bytes plus "..." (as RabbitMQ does). */
export function fitReplyText(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= 255) return text;
  // Cut on a character boundary.
  let end = 252;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString("utf8")}...`;
}
