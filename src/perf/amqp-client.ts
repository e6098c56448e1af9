import net from "node:net";
import type { FieldTable, FieldValue } from "../protocol/field-table.js";
import { FrameReader } from "../protocol/frame-reader.js";
import { FrameWriter } from "../protocol/frame-writer.js";
import { FrameType, PROTOCOL_HEADER } from "../protocol/generated/constants.js";
import {
  type ConnectionStart,
  type ConnectionTune,
  decodeMethodArgs,
  type Method,
} from "../protocol/generated/methods.js";
import { Reader } from "../protocol/wire-reader.js";
import { parseAmqpUrl } from "./amqp-url.js";
import { ClientChannel } from "./client-channel.js";
import { ClientError, RpcQueue } from "./rpc-queue.js";

export interface ConnectOptions {
  /** Heartbeat the client asks for, seconds (the lower of both sides' wins; 0 = none). */
  readonly heartbeatSec?: number;
  readonly connectionName?: string;
  readonly connectTimeoutMs?: number;
}

/** Frames the client accepts, whatever is negotiated; a load tool can be generous. */
const READ_FRAME_MAX = 4 * 1024 * 1024;
/** The frame size the client asks for (RabbitMQ's and Warren's default). */
const CLIENT_FRAME_MAX = 131072;
const CLIENT_CHANNEL_MAX = 2047;

/**
 * A minimal AMQP 0-9-1 client for the load tool, on node:net and Warren's own codec
 * (src/protocol): one FrameReader, one FrameWriter, and, like the broker, everything
 * queued in one event-loop turn written in one vectored write. It speaks the subset
 * a load generator needs: declare, bind, qos, consume, publish, confirms, acks,
 * heartbeats and connection.blocked. Deliveries are handed out as views of the socket
 * chunk, valid only during the callback, so the consumer side copies nothing.
 */
export class AmqpClient {
  readonly writer = new FrameWriter(CLIENT_FRAME_MAX);
  /** True while the broker has sent connection.blocked (resource alarm). */
  blocked = false;
  onBlockedChange: ((blocked: boolean) => void) | undefined;
  /** Resolves with the error that ended the connection, or undefined after close(). */
  readonly closed: Promise<Error | undefined>;
  private readonly reader: FrameReader;
  private readonly rpc = new RpcQueue();
  private readonly channels = new Map<number, ClientChannel>();
  private nextChannelId = 1;
  private channelMax = CLIENT_CHANNEL_MAX;
  private flushScheduled = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sentSinceBeat = false;
  private receivedSinceBeat = false;
  private silentBeats = 0;
  private failure: Error | undefined;
  private closing = false;
  private resolveClosed!: (e: Error | undefined) => void;
  private readonly drainWaiters: (() => void)[] = [];

  private constructor(private readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.reader = new FrameReader(
      { onFrame: (type, channel, payload) => this.onFrame(type, channel, payload) },
      () => {},
      READ_FRAME_MAX,
    );
    // The reader expects a protocol header first, as a broker does; a client gets frames only.
    this.reader.push(PROTOCOL_HEADER);
    socket.on("data", (chunk: Buffer) => {
      this.receivedSinceBeat = true;
      try {
        this.reader.push(chunk);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
    socket.on("drain", () => {
      for (const w of this.drainWaiters.splice(0)) w();
    });
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new ClientError("connection closed by the broker")));
  }

  /** Connects, authenticates with PLAIN, tunes and opens the URL's vhost. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<AmqpClient> {
    const endpoint = parseAmqpUrl(url);
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    const client = new AmqpClient(socket);
    const timeoutMs = options.connectTimeoutMs ?? 30_000;
    const timer = setTimeout(
      () => client.fail(new ClientError(`no AMQP handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.write(PROTOCOL_HEADER);
      const start = (await client.rpc.wait("connection.start")) as ConnectionStart;
      const mechanisms = String(start.mechanisms).split(" ");
      if (!mechanisms.includes("PLAIN")) {
        throw new ClientError(`broker offers no PLAIN mechanism (${start.mechanisms})`);
      }
      client.send({
        name: "connection.start-ok",
        clientProperties: clientProperties(options.connectionName),
        mechanism: "PLAIN",
        response: `\0${endpoint.username}\0${endpoint.password}`,
        locale: "en_US",
      });
      const tune = (await client.rpc.wait("connection.tune")) as ConnectionTune;
      const heartbeatSec = negotiate(tune.heartbeat, options.heartbeatSec ?? 60);
      const frameMax = negotiate(tune.frameMax, CLIENT_FRAME_MAX);
      client.channelMax = negotiate(tune.channelMax, CLIENT_CHANNEL_MAX);
      client.writer.frameMax = frameMax;
      client.send({
        name: "connection.tune-ok",
        channelMax: client.channelMax,
        frameMax,
        heartbeat: heartbeatSec,
      });
      client.send({ name: "connection.open", virtualHost: endpoint.vhost });
      await client.rpc.wait("connection.open-ok");
      client.startHeartbeats(heartbeatSec);
      return client;
    } catch (e) {
      client.fail(e as Error);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async openChannel(): Promise<ClientChannel> {
    if (this.nextChannelId > this.channelMax) throw new ClientError("no channel left");
    const channel = new ClientChannel(this, this.nextChannelId++);
    this.channels.set(channel.id, channel);
    await channel.open();
    return channel;
  }

  /** Bytes given to the client but not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength + this.writer.pendingBytes;
  }

  get isOpen(): boolean {
    return this.failure === undefined && !this.closing;
  }

  /** Resolves once the socket has drained (or at once when nothing waits to be written). */
  whenDrained(): Promise<void> {
    if (this.socket.writableLength === 0 || !this.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Queues a method frame for this turn's write. */
  send(method: Method, channel = 0): void {
    if (this.failure) return;
    this.writer.method(channel, method);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /** connection.close, then waits (at most timeoutMs) for close-ok and ends the socket. */
  async close(timeoutMs = 3000): Promise<void> {
    if (this.failure || this.closing) {
      this.socket.destroy();
      return;
    }
    this.closing = true;
    this.send({
      name: "connection.close",
      replyCode: 200,
      replyText: "Goodbye",
      classId: 0,
      methodId: 0,
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.rpc.wait("connection.close-ok").catch(() => {}),
      new Promise((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.finish(undefined);
  }

  /** Forgets a channel the broker or the user closed. */
  releaseChannel(id: number): void {
    this.channels.delete(id);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.writer.isEmpty || this.socket.destroyed) return;
    this.sentSinceBeat = true;
    const chunks = this.writer.take();
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  };

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type === FrameType.Heartbeat) return;
    if (channel !== 0) {
      const ch = this.channels.get(channel);
      if (ch) ch.onFrame(type, payload);
      return;
    }
    if (type !== FrameType.Method) return;
    const r = new Reader(payload);
    const id = r.long();
    const method = decodeMethodArgs(id, r);
    if (!method) return;
    switch (method.name) {
      case "connection.close":
        this.send({ name: "connection.close-ok" });
        this.flush();
        this.fail(
          new ClientError(`connection closed by the broker: ${method.replyText}`, method.replyCode),
        );
        return;
      case "connection.blocked":
      case "connection.unblocked":
        this.blocked = method.name === "connection.blocked";
        this.onBlockedChange?.(this.blocked);
        return;
      default:
        this.rpc.deliver(method);
    }
  }

  private startHeartbeats(heartbeatSec: number): void {
    if (heartbeatSec === 0) return;
    // AMQP 0-9-1 §4.2.7: send a heartbeat when nothing else went out in half the interval;
    // the peer is dead after two silent intervals.
    this.heartbeatTimer = setInterval(
      () => {
        if (!this.sentSinceBeat) {
          this.writer.heartbeat();
          this.scheduleFlush();
        }
        this.sentSinceBeat = false;
        this.silentBeats = this.receivedSinceBeat ? 0 : this.silentBeats + 1;
        this.receivedSinceBeat = false;
        if (this.silentBeats >= 4) {
          this.fail(new ClientError(`missed heartbeats from the broker (${heartbeatSec}s)`));
        }
      },
      (heartbeatSec * 1000) / 2,
    );
    this.heartbeatTimer.unref();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.finish(this.closing ? undefined : e);
  }

  private finish(error: Error | undefined): void {
    this.failure ??= error ?? new ClientError("connection closed");
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.reader.stop();
    const reason = this.failure;
    this.rpc.failAll(reason);
    for (const ch of this.channels.values()) ch.connectionLost(reason);
    this.channels.clear();
    for (const w of this.drainWaiters.splice(0)) w();
    this.socket.destroy();
    this.resolveClosed(error);
  }
}

/** The lower of two proposals, where 0 means "no limit" (AMQP 0-9-1 connection.tune). */
function negotiate(server: number, client: number): number {
  if (server === 0) return client;
  if (client === 0) return server;
  return Math.min(server, client);
}

function clientProperties(connectionName: string | undefined): FieldTable {
  const str = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
  const yes: FieldValue = { type: "t", value: true };
  const capabilities: FieldTable = new Map([
    ["publisher_confirms", yes],
    ["exchange_exchange_bindings", yes],
    ["basic.nack", yes],
    ["consumer_cancel_notify", yes],
    ["connection.blocked", yes],
    ["authentication_failure_close", yes],
  ]);
  const props: FieldTable = new Map([
    ["product", str("warren perf")],
    ["platform", str(`Node.js ${process.version}`)],
    ["capabilities", { type: "F", value: capabilities }],
  ]);
  if (connectionName) props.set("connection_name", str(connectionName));
  return props;
}
