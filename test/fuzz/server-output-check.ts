import { FrameReader } from "../../src/protocol/frame-reader.js";
import { PROTOCOL_HEADER } from "../../src/protocol/generated/constants.js";
import { decodeMethodArgs, type Method } from "../../src/protocol/generated/methods.js";
import { Reader } from "../../src/protocol/wire-reader.js";
import { SPEC } from "../support/method-arbitraries.js";

const REPLY_CODES = new Set(SPEC.replyCodes.map((r) => r.code));
const CONTENT_METHODS = new Set(["basic.deliver", "basic.get-ok", "basic.return"]);

/**
 * Reads everything the broker sends to one fuzzed client and checks the rules a
 * broker must keep whatever it is sent: well-formed frames, content frames only
 * after a content method and adding up to its body size, reply codes from the
 * spec with a text, never 541 INTERNAL_ERROR, and silence after connection.close
 * (only the close-ok of a crossing close may follow), after connection.close-ok (only
 * the close-ok of another connection.close, as RabbitMQ answers each) and on a
 * channel it closed.
 */
export class ServerOutputCheck {
  readonly violations: string[] = [];
  /** The first connection.close the broker sent ("connection.close 501"), if any. */
  connectionClose: string | undefined;
  readonly channelCloses: number[] = [];
  /** The first 200 methods the broker sent ("1 queue.declare-ok"), for reports. */
  readonly trace: string[] = [];
  /** The broker answered a bad protocol header with its own. */
  sentProtocolHeader = false;
  private started = false;
  private connectionDone = false;
  private closeOkSent = false;
  private readonly closedChannels = new Set<number>();
  private readonly content = new Map<number, { remaining: number; headerSeen: boolean }>();
  private readonly reader = new FrameReader(
    { onFrame: (t, c, p) => this.onFrame(t, c, p) },
    () => {},
    1 << 30,
  );

  constructor() {
    this.reader.push(PROTOCOL_HEADER); // the reader wants a header; the server sends none
  }

  push(chunks: readonly Buffer[]): void {
    for (let chunk of chunks) {
      if (chunk.length === 0) continue;
      if (this.connectionDone) {
        this.violations.push(`sent ${chunk.length} bytes after the connection was finished`);
        continue;
      }
      if (!this.started && chunk.subarray(0, 4).toString("latin1") === "AMQP") {
        this.sentProtocolHeader = true;
        this.connectionDone = true;
        chunk = chunk.subarray(8);
        if (chunk.length) this.violations.push("sent bytes after its protocol header");
        continue;
      }
      this.started = true;
      try {
        this.reader.push(chunk);
      } catch (e) {
        this.violations.push(`sent a malformed frame: ${(e as Error).message}`);
        this.connectionDone = true;
      }
    }
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    const closeOk = type === 1 && channel === 0 && payload.readUInt32BE(0) === 0x000a0033;
    if (this.closeOkSent) {
      if (!closeOk) {
        this.violations.push(
          `sent a type ${type} frame on channel ${channel} after connection.close-ok`,
        );
      }
      return;
    }
    if (this.connectionClose !== undefined) {
      // Only the close-ok answering a client's close that crossed ours may follow.
      if (!closeOk) {
        this.violations.push(
          `sent a type ${type} frame on channel ${channel} after connection.close (${type === 1 ? describeMethod(payload) : ""})`,
        );
        return;
      }
    }
    if (type === 8) return;
    if (type === 1) return this.onMethod(channel, payload);
    const pending = this.content.get(channel);
    if (!pending) {
      this.violations.push(
        `sent a type ${type} frame on channel ${channel} with no content method`,
      );
      return;
    }
    if (type === 2 && !pending.headerSeen) {
      pending.headerSeen = true;
      pending.remaining = Number(payload.readBigUInt64BE(4));
    } else if (type === 3 && pending.headerSeen) {
      pending.remaining -= payload.length;
      if (pending.remaining < 0)
        this.violations.push(`sent more body than the header announced on channel ${channel}`);
    } else {
      this.violations.push(`sent a type ${type} frame out of order on channel ${channel}`);
    }
    if (pending.headerSeen && pending.remaining <= 0) this.content.delete(channel);
  }

  private onMethod(channel: number, payload: Buffer): void {
    let method: Method | undefined;
    try {
      const r = new Reader(payload);
      method = decodeMethodArgs(r.long(), r);
    } catch (e) {
      this.violations.push(`sent a method frame that does not decode: ${(e as Error).message}`);
      return;
    }
    if (!method) {
      this.violations.push(
        `sent an unknown method ${payload.readUInt32BE(0)} on channel ${channel}`,
      );
      return;
    }
    if (this.trace.length < 200) this.trace.push(`${channel} ${method.name}`);
    if (this.content.has(channel))
      this.violations.push(`sent ${method.name} on channel ${channel} inside unfinished content`);
    if (this.closedChannels.has(channel) && method.name !== "channel.close-ok") {
      if (method.name === "channel.open-ok") this.closedChannels.delete(channel);
      else this.violations.push(`sent ${method.name} on channel ${channel} after channel.close`);
    }
    if (CONTENT_METHODS.has(method.name))
      this.content.set(channel, { remaining: 0, headerSeen: false });
    if (method.name === "connection.close" || method.name === "channel.close") {
      const { replyCode, replyText } = method;
      if (replyCode === 541)
        this.violations.push(`${method.name} 541 INTERNAL_ERROR: ${replyText}`);
      else if (!REPLY_CODES.has(replyCode))
        this.violations.push(`${method.name} with reply code ${replyCode}, not in the spec`);
      if (!replyText) this.violations.push(`${method.name} ${replyCode} without a reply text`);
      if (method.name === "connection.close") {
        this.connectionClose ??= `connection.close ${replyCode}`;
      } else {
        this.channelCloses.push(replyCode);
        this.closedChannels.add(channel);
      }
    }
    if (method.name === "connection.close-ok") this.closeOkSent = true;
  }
}

function describeMethod(payload: Buffer): string {
  try {
    const r = new Reader(payload);
    return decodeMethodArgs(r.long(), r)?.name ?? "unknown method";
  } catch {
    return "undecodable method";
  }
}
