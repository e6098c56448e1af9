import { AmqpConnection, type Transport } from "../../src/connection/amqp-connection.js";
import { silentLog } from "../../src/log.js";
import { encodeProperties } from "../../src/protocol/content-properties.js";
import type { FieldTable } from "../../src/protocol/field-table.js";
import { FrameReader } from "../../src/protocol/frame-reader.js";
import { FrameWriter } from "../../src/protocol/frame-writer.js";
import { FrameType, PROTOCOL_HEADER } from "../../src/protocol/generated/constants.js";
import { decodeMethodArgs, type Method } from "../../src/protocol/generated/methods.js";
import type { BasicProperties } from "../../src/protocol/generated/properties.js";
import { Reader } from "../../src/protocol/wire-reader.js";
import { systemSources } from "../../src/runtime/system-sources.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";

export interface Received {
  readonly channel: number;
  readonly method: Method;
  readonly properties?: Buffer;
  readonly body?: Buffer;
}

/**
 * An AMQP client wired straight to an AmqpConnection, no sockets: bytes go in with
 * receive(), frames come out of flush(). For unit tests of connection and channel
 * behaviour, and for fuzzing. `pump()` collects what the broker sent.
 */
export class InProcessClient {
  readonly conn: AmqpConnection;
  readonly received: Received[] = [];
  closedSocket = false;
  /** Whether the broker asked to stop reading from this client (resource alarm, flow control). */
  paused = false;
  /** Input the broker kept back for a later turn; pump() runs it as the next turn would. */
  private deferred: (() => void)[] = [];
  /** Heartbeat frames the broker sent. */
  heartbeats = 0;
  private readonly reader: FrameReader;
  private partial:
    | { channel: number; method: Method; properties?: Buffer; size: number; body: Buffer[] }
    | undefined;

  constructor(
    readonly broker: Broker,
    remoteAddress = "127.0.0.1",
    /** What a TLS handshake would have added (tls, peerCertificate). */
    secure: Pick<Transport, "tls" | "peerCertificate"> = {},
  ) {
    const transport: Transport = {
      ...secure,
      remoteAddress,
      remotePort: 40000,
      localAddress: "127.0.0.1",
      localPort: 5672,
      writableLength: 0,
      requestFlush: () => {},
      end: () => {
        this.pump();
        this.closedSocket = true;
      },
      destroy: () => {
        this.closedSocket = true;
      },
      pauseReading: () => {
        this.paused = true;
      },
      resumeReading: () => {
        this.paused = false;
      },
      defer: (fn) => {
        this.deferred.push(fn);
      },
    };
    this.conn = new AmqpConnection(broker, transport);
    this.reader = new FrameReader(
      { onFrame: (t, c, p) => this.onFrame(t, c, p) },
      () => {},
      1 << 30,
    );
    this.reader.push(PROTOCOL_HEADER); // the reader expects a header first; ours is a stand-in
  }

  /** Raw bytes to the broker. */
  send(bytes: Buffer): void {
    this.conn.receive(bytes);
  }

  method(channel: number, method: Method): void {
    const w = new FrameWriter(1 << 20);
    w.method(channel, method);
    this.send(Buffer.concat(w.take()));
  }

  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: string | Buffer,
    props: BasicProperties = {},
  ): void {
    this.send(publishFrames(channel, exchange, routingKey, body, props));
  }

  /** Collects everything the broker queued for this client. */
  pump(): Received[] {
    const before = this.received.length;
    for (;;) {
      // What the runtime would do in slices on later turns (purges, deletes) happens now.
      this.broker.chores.runAll(this.broker.clock());
      for (const chunk of this.conn.flush()) this.reader.push(chunk);
      const later = this.deferred;
      if (later.length === 0) break;
      this.deferred = [];
      for (const fn of later) fn();
    }
    return this.received.slice(before);
  }

  /** Protocol header, PLAIN guest/guest, tune-ok with the server's values, open "/". */
  handshake(
    user = "guest",
    password = "guest",
    vhost = "/",
    capabilities = ["consumer_cancel_notify", "authentication_failure_close"],
  ): void {
    this.send(PROTOCOL_HEADER);
    const response = Buffer.from(`\0${user}\0${password}`);
    this.method(0, {
      name: "connection.start-ok",
      clientProperties: new Map([
        [
          "capabilities",
          { type: "F", value: new Map(capabilities.map((c) => [c, { type: "t", value: true }])) },
        ],
      ]),
      mechanism: "PLAIN",
      response,
      locale: "en_US",
    });
    const tune = this.pump().find((r) => r.method.name === "connection.tune")?.method;
    if (tune?.name !== "connection.tune") throw new Error("no connection.tune");
    this.method(0, {
      name: "connection.tune-ok",
      channelMax: tune.channelMax,
      frameMax: tune.frameMax,
      heartbeat: 0,
    });
    this.method(0, { name: "connection.open", virtualHost: vhost });
    this.pump();
  }

  /** queue.declare with RabbitMQ's defaults (not durable, not exclusive) unless told. */
  declareQueue(
    channel: number,
    queue: string,
    options: {
      passive?: boolean;
      durable?: boolean;
      exclusive?: boolean;
      arguments?: FieldTable;
    } = {},
  ): void {
    this.method(channel, {
      name: "queue.declare",
      queue,
      passive: options.passive ?? false,
      durable: options.durable ?? false,
      exclusive: options.exclusive ?? false,
      autoDelete: false,
      noWait: false,
      arguments: options.arguments ?? new Map(),
    });
  }

  /** exchange.declare, not durable, with the given arguments. */
  declareExchange(
    channel: number,
    exchange: string,
    type: string,
    args: FieldTable = new Map(),
  ): void {
    this.method(channel, {
      name: "exchange.declare",
      exchange,
      type,
      passive: false,
      durable: false,
      autoDelete: false,
      internal: false,
      noWait: false,
      arguments: args,
    });
  }

  openChannel(channel: number): void {
    this.method(channel, { name: "channel.open" });
    this.pump();
  }

  /** Names of the methods received so far (e.g. "basic.ack"). */
  names(): string[] {
    return this.received.map((r) => r.method.name);
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type === FrameType.Heartbeat) this.heartbeats++;
    if (type === FrameType.Method) {
      const r = new Reader(payload);
      const method = decodeMethodArgs(r.long(), r)!;
      if (
        method.name === "basic.deliver" ||
        method.name === "basic.get-ok" ||
        method.name === "basic.return"
      ) {
        this.partial = { channel, method, size: 0, body: [] };
      } else {
        this.received.push({ channel, method });
      }
    } else if (type === FrameType.Header && this.partial) {
      this.partial.size = Number(payload.readBigUInt64BE(4));
      this.partial.properties = Buffer.from(payload.subarray(12));
      if (this.partial.size === 0) this.completeContent();
    } else if (type === FrameType.Body && this.partial) {
      this.partial.body.push(Buffer.from(payload));
      if (this.partial.body.reduce((n, b) => n + b.length, 0) >= this.partial.size)
        this.completeContent();
    }
  }

  private completeContent(): void {
    const p = this.partial!;
    this.partial = undefined;
    this.received.push({
      channel: p.channel,
      method: p.method,
      properties: p.properties,
      body: Buffer.concat(p.body),
    });
  }
}

/** A broker with the default vhost and guest user, no storage, silent. */
export function testBroker(clock?: () => number): Broker {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, {
    ...systemSources,
    clock: clock ?? Date.now,
  });
  broker.bootstrapDefaults();
  return broker;
}

/** A client logged in as guest with channel 1 open. */
export function openClient(broker: Broker): InProcessClient {
  const client = new InProcessClient(broker);
  client.handshake();
  client.openChannel(1);
  return client;
}

/** The frames of one basic.publish with its content, as a client sends them. */
export function publishFrames(
  channel: number,
  exchange: string,
  routingKey: string,
  body: string | Buffer,
  props: BasicProperties = {},
): Buffer {
  const w = new FrameWriter(131072);
  w.method(channel, {
    name: "basic.publish",
    exchange,
    routingKey,
    mandatory: false,
    immediate: false,
  });
  const properties = encodeProperties(props);
  const b = typeof body === "string" ? Buffer.from(body) : body;
  // Header and body frames, laid out as content() lays them out after a method.
  const tmp = new FrameWriter(131072);
  tmp.content(
    channel,
    { name: "basic.publish", exchange, routingKey, mandatory: false, immediate: false },
    properties,
    b,
  );
  const all = Buffer.concat(tmp.take());
  const methodFrameLength = 7 + all.readUInt32BE(3) + 1;
  return Buffer.concat([...w.take(), all.subarray(methodFrameLength)]);
}
