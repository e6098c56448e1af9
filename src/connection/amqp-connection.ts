import { AmqpError, connectionError } from "../protocol/amqp-error.js";
import { type Command, CommandAssembler, ContentError } from "../protocol/command-assembler.js";
import { describeFrame } from "../protocol/frame-description.js";
import { FRAME_OVERHEAD, FrameReader } from "../protocol/frame-reader.js";
import { FrameWriter } from "../protocol/frame-writer.js";
import {
  ClassId,
  FRAME_MIN_SIZE,
  FrameType,
  PROTOCOL_HEADER,
  ReplyCode,
} from "../protocol/generated/constants.js";
import type { Method } from "../protocol/generated/methods.js";
import type { QueuePressure } from "../queue/queue-pressure.js";
import type { Queue } from "../queue/queue-type.js";
import type { Broker } from "../vhost/broker.js";
import type { User } from "../vhost/users.js";
import type { VirtualHost } from "../vhost/virtual-host.js";
import { Channel } from "./channel.js";
import type { ClientInfo } from "./client-info.js";
import {
  type CloseMethod,
  ClosingDeadline,
  closeMethodOf,
  closingTimeoutMs,
} from "./close-handshake.js";
import { handleConnectionMethod, sendStart } from "./methods/connection-methods.js";
import { PublisherFlow } from "./publisher-flow.js";
import { ReadGate } from "./read-gate.js";

/** What the runtime gives a connection: the socket's addresses and a way to act on it. */
export interface Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Bytes the socket has accepted but not yet written to the network. */
  readonly writableLength: number;
  /** The connection has output: the runtime calls flush() before the turn ends. */
  requestFlush(): void;
  /** Closes the socket once queued output is written. */
  end(): void;
  /** Closes the socket now, discarding queued output. */
  destroy(): void;
  /** Stops reading from the socket (TCP backpressure reaches the client). */
  pauseReading(): void;
  resumeReading(): void;
  /** Runs `fn` on a later event-loop turn (to go on with input kept back this turn). */
  defer(fn: () => void): void;
  /** Set on amqps connections. */
  readonly tls?: boolean;
  /** On amqps: the client's certificate, when it sent one that verified against the CA. */
  readonly peerCertificate?: PeerCertificate;
}

/** What a verified client certificate says about its owner (for SASL EXTERNAL). */
export interface PeerCertificate {
  /** The subject's CNs joined with "," (RabbitMQ's common_name), or undefined without one. */
  readonly commonName: string | undefined;
  /** The subject as RabbitMQ writes it (RFC 4514, last RDN first: "CN=alice,O=Example"). */
  readonly distinguishedName?: string;
}

export type ConnectionState =
  | "handshake" // protocol header seen, start sent, waiting for start-ok/tune-ok/open
  | "open"
  | "closing" // we sent connection.close, waiting for close-ok
  | "closed"; // nothing held any more; the socket may wait for the client to close it

/**
 * One AMQP connection as a state machine: bytes in, frames out through the
 * FrameWriter, time in through tick(). Handshake and connection-class methods
 * live in methods/connection-methods.ts; channel methods in Channel.
 */
export class AmqpConnection {
  readonly id: number;
  readonly name: string;
  readonly writer: FrameWriter;
  readonly channels = new Map<number, Channel>();
  state: ConnectionState = "handshake";
  /** Handshake progress: the next connection method we expect from the client. */
  expecting: "start-ok" | "secure-ok" | "tune-ok" | "open" | "none" = "start-ok";
  user: User | undefined;
  vhost: VirtualHost | undefined;
  client: ClientInfo = { properties: new Map(), capabilities: new Set() };
  authMechanism = "";
  channelMax: number;
  heartbeatSec = 0;
  readonly connectedAtMs: number;
  lastReceivedMs: number;
  lastSentMs: number;
  /** Totals for list_connections (recv_oct, send_oct, recv_cnt, send_cnt). */
  readonly stats = { recvOct: 0, sendOct: 0, recvCnt: 0, sendCnt: 0 };
  /** Why the connection ended, for the close log line. */
  closeReason = "";
  /** The last channel method received (names the connection's work in a stall report). */
  lastCommand: string | undefined;
  /** Whether the client ever published: only publishers are blocked by resource alarms. */
  hasPublished = false;
  /** Set while a resource alarm holds this connection (not read from). */
  blockedSinceMs: number | undefined;
  /** Publisher flow control: not read from while queues it publishes to fall behind. */
  readonly flow: PublisherFlow;
  private blockedSent = false;
  private readonly reader: FrameReader;
  private readonly assembler: CommandAssembler;
  /** Until when we wait for the client's close-ok, or for it to close its socket. */
  private readonly closing = new ClosingDeadline();
  private flushRequested = false;
  /** Whether the socket is read: this turn's budgets, alarms and flow control. */
  readonly gate: ReadGate;
  /** Channels with work to do at flush time (coalesced publisher confirms). */
  readonly dirtyChannels = new Set<Channel>();

  constructor(
    readonly broker: Broker,
    readonly transport: Transport,
  ) {
    this.id = broker.newConnectionId();
    this.name = `${transport.remoteAddress}:${transport.remotePort} -> ${transport.localAddress}:${transport.localPort}`;
    const now = broker.clock();
    this.connectedAtMs = now;
    this.lastReceivedMs = now;
    this.lastSentMs = now;
    this.channelMax = broker.settings.channelMax;
    // Until tune-ok, frames are bounded by the server's frame_max (the client has not chosen yet).
    this.writer = new FrameWriter(FRAME_MIN_SIZE);
    this.gate = new ReadGate({
      state: () => this.state,
      heldElsewhere: () => this.blockedSinceMs !== undefined || this.flow.held,
      pauseReading: () => transport.pauseReading(),
      resumeReading: () => {
        // The client's heartbeats waited unread: the silence check starts afresh.
        this.lastReceivedMs = Math.max(this.lastReceivedMs, broker.clock());
        transport.resumeReading();
      },
      requestFlush: () => this.requestFlush(),
      defer: (fn) => transport.defer(fn),
    });
    this.reader = new FrameReader(
      {
        onFrame: (type, channel, payload) => this.onFrame(type, channel, payload),
        shouldPause: () => this.gate.workSpent,
      },
      (valid) => this.onProtocolHeader(valid),
      broker.settings.frameMax,
    );
    this.gate.attach(this.reader);
    this.assembler = new CommandAssembler({ maxMessageBytes: broker.settings.maxMessageBytes });
    this.flow = new PublisherFlow({
      consumesFrom: (pressure) => this.consumesFrom(pressure),
      released: (_nowMs, heldMs) => {
        broker.counters.flowHeldMs += heldMs;
        this.gate.sync();
      },
    });
  }

  get peer(): string {
    return `${this.transport.remoteAddress}:${this.transport.remotePort}`;
  }

  // --- input ---------------------------------------------------------------

  /** Bytes from the socket. */
  receive(chunk: Buffer): void {
    if (this.state === "closed" && !this.closing.pending) return;
    this.lastReceivedMs = this.broker.clock();
    this.stats.recvOct += chunk.length;
    try {
      this.reader.push(chunk);
    } catch (e) {
      // The frame reader itself failed (bad end octet, oversized frame): the stream
      // cannot be resynchronised, so nothing more is read; close-ok will not come.
      this.reader.stop();
      if (this.state === "closed") this.dropSocket();
      else this.fail(e);
    }
    this.gate.received(chunk.length);
  }

  /** Publishes made this many queue entries: past the turn's budget, input waits. */
  noteWork(entries: number): void {
    this.gate.noteWork(entries);
  }

  private onProtocolHeader(valid: boolean): void {
    if (!valid) {
      // AMQP 0-9-1 §4.2.2: answer a header we do not speak with ours, then close.
      this.writer.raw(PROTOCOL_HEADER);
      this.closeReason = "client sent an unsupported protocol header";
      this.state = "closed";
      this.transport.end();
      return;
    }
    sendStart(this);
  }

  /**
   * One frame. An error here closes its channel or the connection, and parsing
   * goes on with the next frame of the chunk, so the frame reader stays in step
   * (a close-ok later in the same chunk is still seen).
   */
  private onFrame(type: number, channelId: number, payload: Buffer): void {
    try {
      this.handleFrame(type, channelId, payload);
    } catch (e) {
      if (e instanceof ContentError) this.contentError(e);
      else this.fail(e);
    }
  }

  /** A channel-scoped error while assembling content (an oversized message): close that channel. */
  private contentError(e: ContentError): void {
    const channel = this.channels.get(e.channel);
    if (channel) channel.closeWithError(e.error);
    else this.fail(e.error);
  }

  private handleFrame(type: number, channelId: number, payload: Buffer): void {
    this.stats.recvCnt++;
    if (type === FrameType.Heartbeat) {
      if (payload.length > 0) {
        throw connectionError(
          ReplyCode.FRAME_ERROR,
          `${describeFrame(type, payload)}: unknown_frame`,
        );
      }
      if (channelId !== 0)
        throw connectionError(ReplyCode.UNEXPECTED_FRAME, describeFrame(type, payload));
      return;
    }
    if (this.state === "closing" || this.state === "closed") {
      // Only connection.close and close-ok matter now; everything else is dropped.
      if (channelId === 0) this.onClosingMethod(closeMethodOf(type, payload));
      return;
    }
    if (channelId === 0) {
      if (type !== FrameType.Method) {
        throw connectionError(ReplyCode.UNEXPECTED_FRAME, describeFrame(type, payload));
      }
      // Only connection methods belong on channel 0 (a publish here has no channel to go to).
      const classId = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
      if (classId !== ClassId.Connection) {
        throw new AmqpError(
          ReplyCode.CHANNEL_ERROR,
          `CHANNEL_ERROR - unexpected method in connection state ${this.state === "open" ? "running" : "starting"}`,
          classId,
          payload.length >= 4 ? payload.readUInt16BE(2) : 0,
          "connection",
        );
      }
      const command = this.assembler.frame(type, channelId, payload)!;
      handleConnectionMethod(this, command.method);
      return;
    }
    if (this.state !== "open") {
      throw connectionError(ReplyCode.UNEXPECTED_FRAME, describeFrame(type, payload));
    }
    const open = this.channels.get(channelId);
    if (open?.state === "closing" && !closeMethodOf(type, payload)?.startsWith("channel.")) {
      // After sending channel.close the broker drops everything on that channel but
      // channel.close and close-ok (AMQP 0-9-1 §2.3.5.2, as RabbitMQ does), content included.
      this.assembler.reset(channelId);
      return;
    }
    const command = this.assembler.frame(type, channelId, payload);
    if (!command) return;
    if (command.info.classId === ClassId.Connection) {
      throw new AmqpError(
        ReplyCode.COMMAND_INVALID,
        "COMMAND_INVALID - unimplemented method",
        command.info.classId,
        command.info.methodId,
        "connection",
      );
    }
    const channel = open ?? this.openChannel(channelId, command);
    this.lastCommand = command.method.name;
    channel.handle(command);
  }

  /** The first command on a channel number must be channel.open (RabbitMQ's checks and texts). */
  private openChannel(channelId: number, command: Command): Channel {
    if (command.method.name !== "channel.open") {
      throw new AmqpError(
        ReplyCode.CHANNEL_ERROR,
        "CHANNEL_ERROR - expected 'channel.open'",
        command.info.classId,
        command.info.methodId,
        "connection",
      );
    }
    // RabbitMQ counts channel_max as the number of open channels, not the highest number.
    if (this.channelMax !== 0 && this.channels.size >= this.channelMax) {
      throw connectionError(
        ReplyCode.NOT_ALLOWED,
        `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
      );
    }
    this.broker.admitChannel(this.user!.name);
    const channel = new Channel(this, channelId);
    this.channels.set(channelId, channel);
    this.broker.counters.channelsOpened++;
    return channel;
  }

  /**
   * Closing or closed (rabbit_reader when stopping): close-ok ends the socket; every
   * connection.close gets close-ok and changes nothing (a client closing from two threads
   * sends two; one whose close crossed ours still owes our close-ok).
   */
  private onClosingMethod(method: CloseMethod | undefined): void {
    if (method === "connection.close") this.send(0, { name: "connection.close-ok" });
    else if (method === "connection.close-ok" && this.state === "closing") this.finish();
    else if (method === "connection.close-ok") this.dropSocket(true);
  }

  // --- output --------------------------------------------------------------

  send(channel: number, method: Method): void {
    this.writer.method(channel, method);
    this.stats.sendCnt++;
    this.requestFlush();
  }

  requestFlush(): void {
    if (this.flushRequested) return;
    this.flushRequested = true;
    this.transport.requestFlush();
  }

  /** Called by the runtime once per turn: everything queued, for one socket write. */
  flush(): Buffer[] {
    this.gate.turnEnded();
    for (const ch of this.dirtyChannels) ch.beforeFlush();
    this.dirtyChannels.clear();
    // Cleared after the channels ran: their output is in this batch, not a new request.
    this.flushRequested = false;
    if (this.writer.isEmpty) return [];
    const chunks = this.writer.take();
    for (const c of chunks) this.stats.sendOct += c.length;
    this.lastSentMs = this.broker.clock();
    return chunks;
  }

  /** Output is backed up: deliveries to this connection wait until it drains. */
  get outputBlocked(): boolean {
    return (
      this.transport.writableLength + this.writer.pendingBytes >
      this.broker.settings.outputHighWaterBytes
    );
  }

  /** The socket drained: let its consumers' queues deliver again. */
  onDrain(): void {
    for (const ch of this.channels.values()) ch.resumeDeliveries();
  }

  /** Negotiated frame_max, applied to both directions (tune-ok). */
  setFrameMax(frameMax: number): void {
    this.reader.frameMax = frameMax;
    this.writer.frameMax = frameMax;
  }

  // --- publisher flow control ----------------------------------------------

  /** A publish reached these queues: one that falls behind holds this connection. */
  routed(queues: readonly Queue[], nowMs: number): void {
    for (const q of queues) {
      if (q.pressure && this.flow.published(q.pressure, nowMs)) {
        this.broker.counters.flowPauses++;
        this.gate.sync();
      }
    }
  }

  private consumesFrom(pressure: QueuePressure): boolean {
    for (const ch of this.channels.values()) {
      for (const c of ch.consumers.values()) if (c.queue.pressure === pressure) return true;
    }
    return false;
  }

  // --- resource alarms -----------------------------------------------------

  /** A publish arrived: while an alarm is set, this connection is blocked from now on. */
  notePublish(): void {
    this.hasPublished = true;
    if (this.broker.alarms.any && this.blockedSinceMs === undefined) this.block();
  }

  alarmsChanged(): void {
    if (this.state !== "open") return;
    if (this.broker.alarms.any) {
      if (this.hasPublished && this.blockedSinceMs === undefined) this.block();
    } else if (this.blockedSinceMs !== undefined) {
      this.unblock();
    }
  }

  /**
   * Stops reading from a publishing connection while a resource alarm is set, and
   * says so with connection.blocked when the client understands it (RabbitMQ).
   */
  private block(): void {
    this.blockedSinceMs = this.broker.clock();
    if (this.client.capabilities.has("connection.blocked")) {
      this.send(0, { name: "connection.blocked", reason: this.broker.alarms.reason });
      this.blockedSent = true;
    }
    this.gate.sync();
    this.broker.log.info(
      { connection: this.name, reason: this.broker.alarms.reason },
      `connection ${this.name} blocked: ${this.broker.alarms.reason}`,
    );
  }

  private unblock(): void {
    this.blockedSinceMs = undefined;
    if (this.blockedSent) this.send(0, { name: "connection.unblocked" });
    this.blockedSent = false;
    this.gate.sync();
    this.broker.log.info({ connection: this.name }, `connection ${this.name} unblocked`);
  }

  // --- time ----------------------------------------------------------------

  /**
   * Called by the runtime's tick (every 200 ms). Sends a heartbeat when we have been
   * silent for half the interval, whether or not we read the socket (a blocked client
   * must still hear from us); closes a peer silent for two intervals while we read it
   * (RabbitMQ's rule), and a client that has not finished the handshake in time.
   */
  tick(nowMs: number): void {
    if (this.state === "closing" || this.state === "closed") {
      if (this.closing.passed(nowMs)) {
        if (this.state === "closing") this.finish();
        else this.socketLeftOpen();
      }
      return;
    }
    if (this.state === "handshake") {
      if (nowMs - this.connectedAtMs > this.broker.settings.handshakeTimeoutMs) {
        this.broker.log.warn(
          { connection: this.name },
          "closing AMQP connection: handshake timeout",
        );
        this.closeReason = "handshake timeout";
        this.abort();
      }
      return;
    }
    for (const ch of this.channels.values()) ch.tick(nowMs);
    // Queues that were deleted, lost or stalled their consumers let go here.
    this.flow.review(nowMs);
    if (this.heartbeatSec === 0) return;
    const intervalMs = this.heartbeatSec * 1000;
    // A client we do not read cannot be heard: its silence counts only while we read.
    if (!this.gate.isPaused && nowMs - this.lastReceivedMs > 2 * intervalMs) {
      this.broker.counters.missedHeartbeatCloses++;
      this.broker.log.error(
        { connection: this.name, peer: this.peer, user: this.user?.name, vhost: this.vhost?.name },
        `closing AMQP connection ${this.id} (${this.name}): missed heartbeats from client, timeout: ${this.heartbeatSec}s`,
      );
      this.closeReason = `missed heartbeats from client, timeout: ${this.heartbeatSec}s`;
      this.abort();
      return;
    }
    if (nowMs - this.lastSentMs >= intervalMs / 2) {
      this.writer.heartbeat();
      this.requestFlush();
    }
  }

  // --- closing -------------------------------------------------------------

  /** An error while handling input: close the channel or the connection as it says. */
  fail(e: unknown): void {
    if (!(e instanceof AmqpError)) {
      this.broker.log.error(
        { connection: this.name, err: e },
        "internal error handling a frame; closing connection",
      );
      this.close(ReplyCode.INTERNAL_ERROR, "INTERNAL_ERROR", 0, 0);
      return;
    }
    this.close(e.replyCode, e.replyText, e.classId, e.methodId);
  }

  /** Sends connection.close and waits for close-ok; channels are shut down at once. */
  close(code: number, text: string, classId = 0, methodId = 0): void {
    if (this.state === "closing" || this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.closeReason = text;
    if (code !== ReplyCode.REPLY_SUCCESS || !wasOpen) {
      this.broker.log.error(
        { connection: this.name, peer: this.peer, user: this.user?.name, code },
        `closing AMQP connection ${this.id} (${this.name}): ${text}`,
      );
    }
    this.state = "closing";
    this.closing.awaitCloseOk(this.broker.clock());
    this.shutdownChannels();
    this.send(0, {
      name: "connection.close",
      replyCode: code,
      replyText: text.slice(0, 255),
      classId,
      methodId,
    });
  }

  /**
   * The client asked to close: close-ok, and everything is released now. The socket is
   * left for the client to close (RabbitMQ): to a client closing from two threads, an end
   * of stream before the second close-ok is an error (amqp091-go's 501 "EOF").
   */
  closedByClient(code: number, text: string): void {
    this.closeReason = `client closed: ${code} ${text}`;
    this.shutdownChannels();
    this.send(0, { name: "connection.close-ok" });
    this.state = "closed";
    this.closing.awaitSocketClose(this.broker.clock(), this.heartbeatSec);
    this.terminate();
  }

  /** The client has not closed its socket within the closing timeout of our close-ok. */
  private socketLeftOpen(): void {
    this.broker.log.info(
      { connection: this.name, peer: this.peer, user: this.user?.name },
      `closing the socket of AMQP connection ${this.id} (${this.name}): the client did not close it within ${closingTimeoutMs(this.heartbeatSec) / 1000} s of connection.close-ok`,
    );
    this.dropSocket();
  }

  /** Closes the socket: at once, or once queued output is written. */
  private dropSocket(afterOutput = false): void {
    this.closing.clear();
    this.reader.stop();
    if (afterOutput) this.transport.end();
    else this.transport.destroy();
  }

  /** Closes the socket without a close handshake (missed heartbeats, handshake timeout). */
  abort(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.closing.clear();
    this.reader.stop();
    this.transport.destroy();
    this.terminate();
  }

  /** The socket closed under us (peer gone, reset). */
  socketClosed(): void {
    this.closing.clear();
    if (this.state === "closed") return;
    if (!this.closeReason) this.closeReason = "client unexpectedly closed TCP connection";
    if (this.state === "open") {
      this.broker.log.warn(
        { connection: this.name, peer: this.peer, user: this.user?.name },
        `closing AMQP connection ${this.id} (${this.name}): ${this.closeReason}`,
      );
    }
    this.state = "closed";
    this.reader.stop();
    this.terminate();
  }

  private finish(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.dropSocket(true);
    this.terminate();
  }

  private shutdownChannels(): void {
    for (const ch of this.channels.values()) ch.shutdown();
    this.channels.clear();
  }

  private terminated = false;

  /** Releases everything the connection held: unacked messages, consumers, exclusive queues. */
  private terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.flow.dispose();
    this.shutdownChannels();
    this.vhost?.dropExclusiveQueues(this);
    if (this.vhost && this.user) this.broker.connectionClosed(this.vhost.name, this.user.name);
    if (this.broker.connections.delete(this)) this.broker.counters.connectionsClosed++;
    this.broker.connectionEvents.closed?.(this);
    this.broker.log.info(
      { connection: this.name, peer: this.peer, user: this.user?.name, reason: this.closeReason },
      `connection closed: ${this.closeReason || "closed"}`,
    );
  }

  /** The largest body frame payload the client accepts. */
  get maxBodyFramePayload(): number {
    return this.writer.frameMax - FRAME_OVERHEAD;
  }
}
