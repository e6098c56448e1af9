import net from "node:net";
import tls from "node:tls";
import { encodeProperties } from "../../src/protocol/content-properties.js";
import {
  encodeFieldTable,
  type FieldTable,
  type FieldValue,
} from "../../src/protocol/field-table.js";
import { FrameReader } from "../../src/protocol/frame-reader.js";
import { FrameWriter } from "../../src/protocol/frame-writer.js";
import { FRAME_END, FrameType, PROTOCOL_HEADER } from "../../src/protocol/generated/constants.js";
import {
  type ConnectionStart,
  type ConnectionTune,
  decodeMethodArgs,
  type Method,
  type MethodName,
} from "../../src/protocol/generated/methods.js";
import type { BasicProperties } from "../../src/protocol/generated/properties.js";
import { Reader } from "../../src/protocol/wire-reader.js";
import { Writer } from "../../src/protocol/wire-writer.js";

/** The fields of a channel.close or connection.close. */
export interface CloseFields {
  readonly replyCode: number;
  readonly replyText: string;
  readonly classId: number;
  readonly methodId: number;
}

function closeFields(m: CloseFields): CloseFields {
  return {
    replyCode: m.replyCode,
    replyText: m.replyText,
    classId: m.classId,
    methodId: m.methodId,
  };
}

/** A method the server sent, with the channel it came on. */
export interface ReceivedMethod {
  readonly channel: number;
  readonly method: Method;
}

export interface HandshakeOptions {
  readonly heartbeatSec?: number;
  readonly frameMax?: number;
  readonly channelMax?: number;
  readonly vhost?: string;
  readonly username?: string;
  readonly password?: string;
  /** PLAIN (the default), AMQPLAIN, or EXTERNAL (an empty response; the TLS certificate speaks). */
  readonly mechanism?: "PLAIN" | "AMQPLAIN" | "EXTERNAL";
  /** Client capabilities to advertise; the default is what modern clients send. */
  readonly capabilities?: readonly string[];
}

/** Capabilities a modern client advertises in connection.start-ok. */
const CLIENT_CAPABILITIES = [
  "authentication_failure_close",
  "consumer_cancel_notify",
  "connection.blocked",
  "publisher_confirms",
  "basic.nack",
];

/**
 * A deliberately minimal AMQP 0-9-1 client over node:net, for tests that must send
 * what no real client sends (bad frames, silence instead of heartbeats). Frames are
 * encoded and decoded with Warren's own codec; everything else is up to the test.
 */
export class RawAmqpClient {
  /** Every byte the server sent, in order. */
  readonly received: Buffer[] = [];
  heartbeatsReceived = 0;
  /** Milliseconds from connect to the socket closing, once it has. */
  closedAfterMs: number | undefined;
  /** Whether the socket closed with an error (e.g. ECONNRESET), once it has. */
  closedWithError = false;
  readonly closed: Promise<void>;
  /** The server's connection.start, once the handshake has begun. */
  start: ConnectionStart | undefined;
  private readonly methods: ReceivedMethod[] = [];
  private wake: (() => void) | undefined;
  private readonly reader: FrameReader;
  private readonly connectedAtMs = Date.now();

  private constructor(private readonly socket: net.Socket) {
    // The server's stream has no protocol header; prime the reader so it expects frames.
    this.reader = new FrameReader(
      { onFrame: (type, channel, payload) => this.onFrame(type, channel, payload) },
      () => {},
      1 << 24,
    );
    this.reader.push(PROTOCOL_HEADER);
    socket.on("data", (chunk: Buffer) => {
      this.received.push(chunk);
      try {
        this.reader.push(chunk);
      } catch {
        this.reader.stop(); // not frames (e.g. a protocol header): the raw bytes are kept
      }
      this.notify();
    });
    socket.on("error", () => {
      this.closedWithError = true;
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.closedAfterMs = Date.now() - this.connectedAtMs;
        this.notify();
        resolve();
      }),
    );
  }

  /** Opens a TCP connection and nothing more. */
  static connect(host: string, port: number): Promise<RawAmqpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawAmqpClient(socket));
      });
    });
  }

  /** Opens a TLS connection (amqps) and nothing more. */
  static connectTls(options: tls.ConnectionOptions): Promise<RawAmqpClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect(options);
      socket.once("error", reject);
      socket.once("secureConnect", () => {
        socket.off("error", reject);
        resolve(new RawAmqpClient(socket));
      });
    });
  }

  /** Connects and completes the handshake with PLAIN; returns the server's tune. */
  static async open(
    host: string,
    port: number,
    options: HandshakeOptions = {},
  ): Promise<{ client: RawAmqpClient; tune: ConnectionTune }> {
    const client = await RawAmqpClient.connect(host, port);
    const tune = await client.handshake(options);
    return { client, tune };
  }

  get isClosed(): boolean {
    return this.closedAfterMs !== undefined;
  }

  /** All received bytes joined. */
  get receivedBytes(): Buffer {
    return Buffer.concat(this.received);
  }

  async handshake(options: HandshakeOptions = {}): Promise<ConnectionTune> {
    const tune = await this.login(options);
    this.sendMethod(0, {
      name: "connection.tune-ok",
      channelMax: options.channelMax ?? tune.channelMax,
      frameMax: options.frameMax ?? tune.frameMax,
      heartbeat: options.heartbeatSec ?? 0,
    });
    this.sendMethod(0, { name: "connection.open", virtualHost: options.vhost ?? "/" });
    await this.expect("connection.open-ok");
    return tune;
  }

  /**
   * The first half of the handshake: protocol header, connection.start (kept in
   * `start`), start-ok with the chosen mechanism; returns connection.tune.
   */
  async login(options: HandshakeOptions = {}): Promise<ConnectionTune> {
    this.write(PROTOCOL_HEADER);
    this.start = await this.expect("connection.start");
    const user = options.username ?? "guest";
    const password = options.password ?? "guest";
    const caps: FieldTable = new Map(
      (options.capabilities ?? CLIENT_CAPABILITIES).map((c): [string, FieldValue] => [
        c,
        { type: "t", value: true },
      ]),
    );
    const mechanism = options.mechanism ?? "PLAIN";
    this.sendMethod(0, {
      name: "connection.start-ok",
      clientProperties: new Map<string, FieldValue>([
        ["product", { type: "S", value: Buffer.from("warren raw test client") }],
        ["capabilities", { type: "F", value: caps }],
      ]),
      mechanism,
      response:
        mechanism === "EXTERNAL"
          ? Buffer.alloc(0)
          : mechanism === "AMQPLAIN"
            ? amqplainResponse(user, password)
            : plain(user, password),
      locale: "en_US",
    });
    return this.expect("connection.tune");
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, { name: "channel.open" });
    await this.expect("channel.open-ok", channel);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  sendMethod(channel: number, method: Method): void {
    const w = new FrameWriter(1 << 24);
    w.method(channel, method);
    this.write(Buffer.concat(w.take()));
  }

  /** basic.publish with its header and body frames. */
  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: { properties?: BasicProperties; mandatory?: boolean; immediate?: boolean } = {},
  ): void {
    const w = new FrameWriter(131072);
    w.content(
      channel,
      {
        name: "basic.publish",
        exchange,
        routingKey,
        mandatory: options.mandatory ?? false,
        immediate: options.immediate ?? false,
      },
      encodeProperties(options.properties ?? {}),
      body,
    );
    this.write(Buffer.concat(w.take()));
  }

  /** One frame with any type, channel, payload and frame-end octet. */
  sendFrame(type: number, channel: number, payload: Buffer, frameEnd = FRAME_END): void {
    const frame = Buffer.alloc(8 + payload.length);
    frame.writeUInt8(type, 0);
    frame.writeUInt16BE(channel, 1);
    frame.writeUInt32BE(payload.length, 3);
    payload.copy(frame, 7);
    frame.writeUInt8(frameEnd, 7 + payload.length);
    this.write(frame);
  }

  sendHeartbeat(channel = 0): void {
    this.sendFrame(FrameType.Heartbeat, channel, Buffer.alloc(0));
  }

  /**
   * The next method the server sends (on `channel`, if given), skipping other
   * channels' methods; rejects after `timeoutMs` or when the socket closes first.
   */
  async next(channel?: number, timeoutMs = 5000): Promise<ReceivedMethod> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.methods.findIndex((m) => channel === undefined || m.channel === channel);
      if (at >= 0) return this.methods.splice(at, 1)[0]!;
      if (this.isClosed) throw new Error("the server closed the socket before sending a method");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no method from the server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next method, which must be `name`. */
  async expect<N extends MethodName>(
    name: N,
    channel?: number,
    timeoutMs = 5000,
  ): Promise<Extract<Method, { name: N }>> {
    const got = await this.next(channel, timeoutMs);
    if (got.method.name !== name) {
      throw new Error(
        `expected ${name}, got ${got.method.name} on channel ${got.channel}: ${JSON.stringify(got.method, replacer)}`,
      );
    }
    return got.method as Extract<Method, { name: N }>;
  }

  /** Waits for the socket to close; rejects if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the socket is still open after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return this.closedAfterMs!;
  }

  /** The next method on channel 0 must be connection.close; returns its fields. */
  async expectConnectionClose(): Promise<CloseFields> {
    return closeFields(await this.expect("connection.close", 0));
  }

  /** The next method on `channel` must be channel.close; returns its fields. */
  async expectChannelClose(channel: number): Promise<CloseFields> {
    return closeFields(await this.expect("channel.close", channel));
  }

  /** queue.declare and its declare-ok; returns the queue name. */
  async declareQueue(
    channel: number,
    queue = "",
    flags: { exclusive?: boolean; autoDelete?: boolean; durable?: boolean } = {},
  ): Promise<string> {
    this.sendMethod(channel, {
      name: "queue.declare",
      queue,
      passive: false,
      durable: flags.durable ?? false,
      exclusive: flags.exclusive ?? true,
      autoDelete: flags.autoDelete ?? false,
      noWait: false,
      arguments: new Map(),
    });
    return (await this.expect("queue.declare-ok", channel)).queue;
  }

  /**
   * A round trip on `channel` (basic.qos 0, which changes nothing): proves everything
   * sent before it was accepted without an error.
   */
  async sync(channel: number): Promise<void> {
    this.sendMethod(channel, {
      name: "basic.qos",
      prefetchSize: 0,
      prefetchCount: 0,
      global: false,
    });
    await this.expect("basic.qos-ok", channel);
  }

  /** Replies close-ok to a server connection.close, as a polite client does. */
  sendCloseOk(): void {
    this.sendMethod(0, { name: "connection.close-ok" });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type === FrameType.Heartbeat) {
      this.heartbeatsReceived++;
      return;
    }
    if (type !== FrameType.Method) return; // content frames: tests here only look at methods
    const r = new Reader(payload);
    const method = decodeMethodArgs(r.long(), r);
    if (method) this.methods.push({ channel, method });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`);

/** AMQPLAIN: a field table with LOGIN and PASSWORD, without the table's length prefix. */
function amqplainResponse(user: string, password: string): Buffer {
  const w = new Writer(256);
  encodeFieldTable(
    w,
    new Map<string, FieldValue>([
      ["LOGIN", { type: "S", value: Buffer.from(user) }],
      ["PASSWORD", { type: "S", value: Buffer.from(password) }],
    ]),
  );
  return Buffer.from(w.buf.subarray(4, w.pos));
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
