import { AmqpConnection, type Transport } from "../../connection/amqp-connection.js";
import { Channel } from "../../connection/channel.js";
import { AmqpError } from "../../protocol/amqp-error.js";
import { FrameReader } from "../../protocol/frame-reader.js";
import { FrameType, PROTOCOL_HEADER } from "../../protocol/generated/constants.js";
import {
  decodeMethodArgs,
  METHOD_INFO_BY_NAME,
  type Method,
} from "../../protocol/generated/methods.js";
import { Reader } from "../../protocol/wire-reader.js";
import type { Broker } from "../../vhost/broker.js";
import type { User } from "../../vhost/users.js";
import { unencodable } from "./frame-fit.js";

/** A channel or connection close the broker sent in answer to a direct command. */
export class DirectError extends Error {
  constructor(
    readonly code: number,
    /** RabbitMQ's reply text, "NOT_FOUND - no queue 'q' in vhost '/'". */
    readonly text: string,
  ) {
    super(text);
  }

  /** The text after "NAME - ", as RabbitMQ's management API words declare errors. */
  get explanation(): string {
    const at = this.text.indexOf(" - ");
    return at < 0 ? this.text : this.text.slice(at + 3);
  }
}

/** A reply from the broker: a method, with its content for get-ok and return. */
export interface Reply {
  readonly method: Method;
  readonly properties?: Buffer;
  readonly body?: Buffer;
}

interface PartialContent {
  readonly method: Method;
  properties?: Buffer;
  size: number;
  readonly body: Buffer[];
  received: number;
}

interface Waiter {
  readonly expect: ReadonlySet<string>;
  readonly resolve: (c: Reply) => void;
  readonly reject: (e: Error) => void;
}

const CHANNEL = 1;
const FRAME_MAX = 131072;
const REPLY_TIMEOUT_MS = 30_000;

/**
 * One AMQP channel opened inside the node for the management API's publishes and
 * gets, as RabbitMQ's management plugin uses a direct connection: they go through
 * the same channel code as a client's, with the HTTP user's permissions, so every
 * rule (permissions, confirms, mandatory returns, dead-lettering) applies unchanged.
 * (Declarations, deletions, bindings and purges do not come here: they submit
 * metadata commands, as the AMQP handlers do. TODO: publishes and gets move to the
 * vhost's publish function and the queue's get once those exist.) No socket: frames are handed over in memory. The connection
 * skips the handshake (the HTTP layer authenticated the user) and is not counted
 * or listed as a client connection; commands go straight to the Channel, and the
 * replies come back as frames, parsed as a client would.
 */
export class DirectChannel {
  private readonly conn: AmqpConnection;
  private readonly reader: FrameReader;
  private partial: PartialContent | undefined;
  private waiters: Waiter[] = [];
  private pumpScheduled = false;
  private failure: DirectError | undefined;
  /** Set when a basic.return arrives for the publish in flight. */
  private returned = false;

  private constructor(broker: Broker, user: User, vhost: string, peerAddress: string) {
    const transport: Transport = {
      remoteAddress: peerAddress,
      remotePort: 0,
      localAddress: "management",
      localPort: 0,
      writableLength: 0,
      requestFlush: () => this.schedulePump(),
      end: () => this.pump(),
      destroy: () => {},
      // Nothing to read from: alarms that pause publishers' sockets do not apply here.
      pauseReading: () => {},
      resumeReading: () => {},
      defer: (fn) => setImmediate(fn),
    };
    this.conn = new AmqpConnection(broker, transport);
    this.conn.user = user;
    this.conn.vhost = broker.vhosts.get(vhost);
    this.conn.state = "open";
    this.conn.expecting = "none";
    this.conn.setFrameMax(FRAME_MAX);
    // Admitted and counted like any channel (AmqpConnection.openChannel): the user's
    // channel limit applies, and Channel.shutdown's release has its admission.
    broker.admitChannel(user.name);
    this.conn.channels.set(CHANNEL, new Channel(this.conn, CHANNEL));
    broker.counters.channelsOpened++;
    this.reader = new FrameReader(
      { onFrame: (type, channel, payload) => this.onFrame(type, channel, payload) },
      () => {},
      Number.MAX_SAFE_INTEGER,
    );
    // The reader expects a protocol header before frames; the broker's side sent none.
    this.reader.push(PROTOCOL_HEADER);
  }

  /** Opens a channel in `vhost` as `user` (the vhost must exist). */
  static async open(
    broker: Broker,
    user: User,
    vhost: string,
    peerAddress: string,
  ): Promise<DirectChannel> {
    let ch: DirectChannel;
    try {
      ch = new DirectChannel(broker, user, vhost, peerAddress);
    } catch (e) {
      // A user over its channel limit: the same refusal a client gets.
      if (e instanceof AmqpError) throw new DirectError(e.replyCode, e.replyText);
      throw e;
    }
    await ch.call({ name: "channel.open" }, ["channel.open-ok"]);
    return ch;
  }

  /** Runs `fn` on a fresh channel and closes it afterwards, whatever happens. */
  static async with<T>(
    broker: Broker,
    user: User,
    vhost: string,
    peerAddress: string,
    fn: (ch: DirectChannel) => Promise<T>,
  ): Promise<T> {
    const ch = await DirectChannel.open(broker, user, vhost, peerAddress);
    try {
      return await fn(ch);
    } finally {
      await ch.close();
    }
  }

  /** Sends a method and waits for one of the expected replies (or the close it caused). */
  call(method: Method, expect: string[], content?: { properties: Buffer; body: Buffer }) {
    return new Promise<Reply>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      // Refused here, before the broker sees it; the channel stays open and usable.
      const refused = unencodable(method);
      if (refused) {
        reject(new DirectError(502, refused));
        return;
      }
      const timer = setTimeout(
        () => reject(new Error(`no reply to ${method.name} within ${REPLY_TIMEOUT_MS} ms`)),
        REPLY_TIMEOUT_MS,
      );
      this.waiters.push({
        expect: new Set(expect),
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send(method, content);
    });
  }

  /** Sends a method that has no reply (basic.ack, nack, reject). */
  cast(method: Method): void {
    if (this.failure) throw this.failure;
    this.send(method);
  }

  /**
   * Waits until everything sent before has been handled: a basic.qos round trip
   * (prefetch 0 is the default, so it changes nothing), since commands on a channel
   * run in order.
   */
  async sync(): Promise<void> {
    await this.call({ name: "basic.qos", prefetchSize: 0, prefetchCount: 0, global: false }, [
      "basic.qos-ok",
    ]);
  }

  /**
   * Publishes as RabbitMQ's HTTP publish does: mandatory, in confirm mode, and
   * answers whether some queue took the message (a basic.return says it did not).
   */
  async publish(
    exchange: string,
    routingKey: string,
    properties: Buffer,
    body: Buffer,
  ): Promise<{ routed: boolean; nacked: boolean }> {
    await this.call({ name: "confirm.select", nowait: false }, ["confirm.select-ok"]);
    this.returned = false;
    const reply = await this.call(
      { name: "basic.publish", exchange, routingKey, mandatory: true, immediate: false },
      ["basic.ack", "basic.nack"],
      { properties, body },
    );
    return { routed: !this.returned, nacked: reply.method.name === "basic.nack" };
  }

  async close(): Promise<void> {
    if (this.failure) return;
    try {
      await this.call(
        { name: "channel.close", replyCode: 200, replyText: "", classId: 0, methodId: 0 },
        ["channel.close-ok"],
      );
    } catch {
      // The channel is gone either way.
    }
  }

  private send(method: Method, content?: { properties: Buffer; body: Buffer }): void {
    const channel = this.conn.channels.get(CHANNEL);
    if (!channel || this.conn.state !== "open") {
      this.fail(new DirectError(504, "CHANNEL_ERROR - the management channel is closed"));
      return;
    }
    channel.handle({
      channel: CHANNEL,
      method,
      info: METHOD_INFO_BY_NAME.get(method.name)!,
      properties: content?.properties,
      body: content?.body,
    });
    this.schedulePump();
  }

  private fail(error: DirectError): void {
    this.failure = error;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(error);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    try {
      for (const chunk of this.conn.flush()) this.reader.push(chunk);
    } catch (e) {
      // A frame we cannot read is a bug here, not in the broker: fail this request only.
      this.fail(
        new DirectError(541, `INTERNAL_ERROR - management channel: ${(e as Error).message}`),
      );
    }
  }

  /** Frames from the broker, reassembled as a client does (method, then header and body). */
  private onFrame(type: number, _channel: number, payload: Buffer): void {
    if (type === FrameType.Method) {
      const r = new Reader(payload);
      const method = decodeMethodArgs(r.long(), r);
      if (!method) return;
      if (
        method.name === "basic.get-ok" ||
        method.name === "basic.return" ||
        method.name === "basic.deliver"
      ) {
        this.partial = { method, size: 0, body: [], received: 0 };
      } else this.onCommand({ method });
    } else if (type === FrameType.Header && this.partial) {
      this.partial.size = Number(payload.readBigUInt64BE(4));
      this.partial.properties = Buffer.from(payload.subarray(12));
      if (this.partial.size === 0) this.completeContent();
    } else if (type === FrameType.Body && this.partial) {
      this.partial.body.push(Buffer.from(payload));
      this.partial.received += payload.length;
      if (this.partial.received >= this.partial.size) this.completeContent();
    }
  }

  private completeContent(): void {
    const p = this.partial!;
    this.partial = undefined;
    this.onCommand({ method: p.method, properties: p.properties, body: Buffer.concat(p.body) });
  }

  private onCommand(c: Reply): void {
    const m = c.method;
    if (m.name === "channel.close" || m.name === "connection.close") {
      // Answer a channel.close so the channel is released; a closing connection is
      // simply dropped (it has no socket and is not ticked).
      if (m.name === "channel.close") this.send({ name: "channel.close-ok" });
      this.fail(new DirectError(m.replyCode, m.replyText));
      return;
    }
    if (m.name === "basic.return") {
      this.returned = true;
      return;
    }
    const at = this.waiters.findIndex((w) => w.expect.has(m.name));
    if (at < 0) return;
    const [w] = this.waiters.splice(at, 1);
    w!.resolve(c);
  }
}
