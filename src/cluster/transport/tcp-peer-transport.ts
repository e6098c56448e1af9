/**
 * The cluster's PeerTransport over TCP (or TLS): framed, checksummed, authenticated by the
 * cluster secret, reconnecting with backoff, and carrying the Raft messages of every group
 * batched per peer. The Raft driver sees only send() and onReceive(); the cluster code gives
 * the peers' addresses and may change them (addPeer, removePeer, setPeers).
 *
 * Sending is best effort (peer-transport.ts): a message for a peer whose link is not up is
 * dropped and counted, and so is one that would take the peer's queue over its byte bound
 * (a slow or stuck peer cannot grow this node's memory). Everything sent to a peer in one
 * event-loop turn goes out in one write at the end of the turn.
 *
 * Besides Raft batches, other kinds of traffic (the classic-queue forwarding) register a
 * frame type with onFrame and send with sendFrame over the same links.
 */
import net from "node:net";
import tls from "node:tls";
import type { GroupMessage, NodeId } from "../../raft/index.js";
import type { MessageReceiver, PeerTransport } from "../peer-transport.js";
import type { Frame } from "./frame-codec.js";
import { encodeFrame, FrameType, frameBytes } from "./frame-codec.js";
import { batchHeader, decodeBatch, encodeGroupMessages } from "./group-message-codec.js";
import { NONCE_BYTES } from "./handshake-codec.js";
import type { HandshakeConfig } from "./handshake-machine.js";
import { InboundListener } from "./inbound-listener.js";
import type { PeerConnection } from "./peer-connection.js";
import type { LinkContext, PeerAddress } from "./peer-link.js";
import { formatAddress, PeerLink } from "./peer-link.js";
import type { PeerStats } from "./peer-stats.js";
import { TransportLog } from "./transport-log.js";
import type { ResolvedTransportOptions, TcpPeerTransportOptions } from "./transport-options.js";
import { resolveTransportOptions } from "./transport-options.js";
import { WireError } from "./wire-reader.js";

/** The first frame type left to other kinds of traffic (frame-codec.ts FrameType). */
export const FIRST_APPLICATION_FRAME_TYPE = 32;

/** Takes one frame of a registered type from a peer. */
export type FrameHandler = (from: NodeId, payload: Buffer) => void;

/**
 * Takes one frame that any node holding the secret may send, member or not (a join
 * request), and answers on the connection it came on: the sender may be no peer of ours.
 */
export type ConnectionFrameHandler = (
  from: NodeId,
  payload: Buffer,
  reply: (type: number, payload: Uint8Array) => void,
) => void;

/** What happens to a node that proved the secret but is no member: see serveStrangers. */
export type StrangerPolicy = {
  readonly handlers: ReadonlyMap<number, ConnectionFrameHandler>;
  /** Its other frames (a forgotten node's Raft messages): answered with this, then closed. */
  readonly notMember: (from: NodeId) => { type: number; payload: Uint8Array };
};

/** The count field of a batch payload. */
const BATCH_HEADER_BYTES = 4;

export class TcpPeerTransport implements PeerTransport {
  private readonly options: ResolvedTransportOptions;
  private readonly secureContext: tls.SecureContext | null;
  private readonly log: TransportLog;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly listener: InboundListener;
  private readonly handlers = new Map<number, FrameHandler>();
  private strangers: StrangerPolicy | undefined;
  /** Requests a stranger's connection is waiting on (serveStrangers). */
  private readonly strangerRequests = new WeakMap<PeerConnection, number>();
  private readonly lostHandlers: ((peer: NodeId) => void)[] = [];
  private receiver: MessageReceiver = () => {};
  private readonly dirty = new Set<PeerLink>();
  private flushScheduled: NodeJS.Immediate | null = null;
  private state: "new" | "starting" | "started" | "closed" = "new";
  /** Messages for nodes this transport does not know. */
  private unknownPeerDrops = 0;

  constructor(options: TcpPeerTransportOptions) {
    this.options = resolveTransportOptions(options);
    // Built once, so a certificate or key that does not parse fails here, at start-up, with
    // OpenSSL's reason, rather than at every dial.
    const tlsOptions = this.options.tls;
    this.secureContext =
      tlsOptions === null
        ? null
        : tls.createSecureContext({
            cert: tlsOptions.cert,
            key: tlsOptions.key,
            ca: tlsOptions.ca,
          });
    this.log = new TransportLog(
      this.options.log,
      this.options.nodeId,
      this.options.now,
      this.options.repeatLogIntervalMs,
    );
    this.listener = new InboundListener({
      tls: this.options.tls,
      connection: { maxFrameBytes: this.options.maxFrameBytes },
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      maxPendingHandshakes: this.options.maxPendingHandshakes,
      log: this.log,
      handshake: () => this.handshake("listener"),
      frame: (peer, frame, connection) => this.onPeerFrame(peer, frame, connection),
      lost: (peer) => this.onLost(peer),
    });
    for (const [peer, address] of options.peers ?? []) this.addPeer(peer, address);
  }

  get nodeId(): NodeId {
    return this.options.nodeId;
  }

  /** Listens on the cluster port and starts dialling the peers; resolves with the bound address. */
  async start(): Promise<PeerAddress> {
    if (this.state !== "new") throw new Error("the transport was already started");
    this.state = "starting";
    let bound: PeerAddress;
    try {
      bound = await this.listener.listen(this.options.listen);
    } catch (error) {
      if (this.state === "starting") this.state = "new";
      throw error;
    }
    // close() may have come while the listener was opening: it wins.
    if ((this.state as string) === "closed") {
      await this.listener.close();
      return bound;
    }
    this.state = "started";
    for (const link of this.links.values()) link.start();
    return bound;
  }

  /** Stops dialling, closes every connection and the listener; leaves no timer behind. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    for (const link of this.links.values()) link.stop();
    await this.listener.close();
  }

  // ---------------------------------------------------------------- peers

  /** Adds a peer to dial (or moves it to a new address). */
  addPeer(peer: NodeId, address: PeerAddress): void {
    if (peer === this.options.nodeId) return;
    // A wrong address is the caller's mistake to report now, not a dial that fails forever.
    if (peer.length === 0) throw new Error("a cluster peer needs a node name");
    if (address.host.length === 0 || !Number.isInteger(address.port)) {
      throw new Error(`cluster peer ${peer} has no usable address (${formatAddress(address)})`);
    }
    if (address.port < 1 || address.port > 65_535) {
      throw new Error(`cluster peer ${peer} has port ${address.port}, not 1-65535`);
    }
    const link = this.links.get(peer);
    if (link !== undefined) {
      if (link.address.host !== address.host || link.address.port !== address.port) {
        if (this.state === "started") link.readdress(address);
        else link.address = address;
      }
      return;
    }
    const created = new PeerLink(peer, address, this.linkContext());
    this.links.set(peer, created);
    if (this.state === "started") created.start();
  }

  /** Stops dialling a peer and closes its connections both ways; its stats go with it. */
  removePeer(peer: NodeId): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    this.links.delete(peer);
    this.dirty.delete(link);
    link.stop();
    this.listener.disconnect(peer);
  }

  /** Makes the peer set exactly this map. */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    for (const peer of [...this.links.keys()]) if (!peers.has(peer)) this.removePeer(peer);
    for (const [peer, address] of peers) this.addPeer(peer, address);
  }

  peers(): NodeId[] {
    return [...this.links.keys()];
  }

  /** Whether this node's link to the peer is up (it has proved itself). */
  isConnected(peer: NodeId): boolean {
    return this.links.get(peer)?.isUp() === true;
  }

  /**
   * Whether both directions are up: this node's link to the peer and the peer's link to
   * this node (traffic that needs answers, such as a consumer's deliveries, needs both).
   */
  isReachable(peer: NodeId): boolean {
    return this.isConnected(peer) && this.listener.hasPeer(peer);
  }

  /**
   * Calls back whenever a proven connection with a peer closes, in either direction: what
   * was sent on it and not yet read may be lost, so state kept with that peer (a consumer
   * fed across the link, a settle on its way) must be ended. Called synchronously with the
   * close, before any frame of a newer connection from the same peer is handled.
   */
  onLinkLost(handler: (peer: NodeId) => void): void {
    this.lostHandlers.push(handler);
  }

  stats(): PeerStats[] {
    return [...this.links.values()].map((link) => ({
      peer: link.peer,
      address: formatAddress(link.address),
      ...link.counters,
      queuedBytes: link.pendingBytes(),
      dropped: { ...link.counters.dropped },
    }));
  }

  /** Messages sent to nodes that are not peers of this transport. */
  unknownPeerMessages(): number {
    return this.unknownPeerDrops;
  }

  // ---------------------------------------------------------------- PeerTransport

  onReceive(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }

  /** Best effort; never throws: drops (and counts) what cannot be sent now. */
  send(to: NodeId, messages: readonly GroupMessage[]): void {
    if (messages.length === 0 || this.state === "closed") return;
    const link = this.links.get(to);
    if (link === undefined) {
      this.unknownPeerDrops += messages.length;
      return;
    }
    if (!link.isUp()) {
      link.counters.dropped.notConnected += messages.length;
      return;
    }
    this.packAndQueue(link, messages);
  }

  /**
   * Encodes a send's messages into one buffer and queues them as few frames as the frame limit
   * allows (usually one). A message too large for any frame, or one that cannot be encoded,
   * is dropped alone, counted and logged.
   */
  private packAndQueue(link: PeerLink, messages: readonly GroupMessage[]): void {
    const encoded = encodeGroupMessages(messages);
    for (const { index, error } of encoded.failed) {
      // A message no encoder can write is a bug in its producer; drop it, say so, carry on.
      link.counters.dropped.unencodable++;
      const type = messages[index]!.message.type;
      this.log.dropped(link.peer, `a ${type} message cannot be encoded: ${error.message}`);
    }
    const limit = this.options.maxFrameBytes - BATCH_HEADER_BYTES;
    let frameStart = 0;
    let start = 0;
    let count = 0;
    const emit = (end: number) => {
      if (count === 0) return;
      const payload = [batchHeader(count), encoded.bytes.subarray(frameStart, end)];
      this.queueFrame(link, FrameType.raftBatch, payload, count);
      count = 0;
    };
    for (const end of encoded.ends) {
      if (end - start > limit) {
        emit(start);
        link.counters.dropped.tooLarge++;
        this.log.dropped(
          link.peer,
          `a message of ${end - start} bytes is over the frame limit of ${this.options.maxFrameBytes}`,
        );
        frameStart = end;
      } else if (end - frameStart > limit) {
        emit(start);
        frameStart = start;
        count = 1;
      } else {
        count++;
      }
      start = end;
    }
    emit(start);
  }

  // ---------------------------------------------------------------- other frame kinds

  /** Registers the handler of a frame type (FIRST_APPLICATION_FRAME_TYPE and above). */
  onFrame(type: number, handler: FrameHandler): void {
    if (!Number.isInteger(type) || type < FIRST_APPLICATION_FRAME_TYPE || type > 255) {
      throw new Error(`frame type ${type} is not free for applications`);
    }
    this.handlers.set(type, handler);
  }

  /**
   * Sends one frame of a registered kind, best effort like send(); `items` is what it counts
   * as in the message counters. Returns whether it was queued.
   */
  sendFrame(to: NodeId, type: number, payload: Uint8Array, items = 1): boolean {
    if (this.state === "closed" || type < FIRST_APPLICATION_FRAME_TYPE) return false;
    const link = this.links.get(to);
    if (link === undefined) {
      this.unknownPeerDrops += items;
      return false;
    }
    if (!link.isUp()) {
      link.counters.dropped.notConnected += items;
      return false;
    }
    if (payload.byteLength > this.options.maxFrameBytes) {
      link.counters.dropped.tooLarge += items;
      return false;
    }
    return this.queueFrame(link, type, payload, items);
  }

  /**
   * Lets nodes that prove the cluster secret but are not peers (yet) past the handshake, for
   * the frames of `policy.handlers` only (join_cluster): a node's name list is a check of
   * the configuration, the secret is what authenticates. Any other frame from such a node
   * is answered with `policy.notMember` and its connection closed, so a forgotten node is
   * told, rather than only refused.
   */
  serveStrangers(policy: StrangerPolicy): void {
    for (const type of policy.handlers.keys()) {
      if (type < FIRST_APPLICATION_FRAME_TYPE || type > 255)
        throw new Error(`frame type ${type} is not free for applications`);
    }
    this.strangers = policy;
  }

  // ---------------------------------------------------------------- internals

  private queueFrame(
    link: PeerLink,
    type: number,
    payload: Uint8Array | readonly Uint8Array[],
    items: number,
  ): boolean {
    const parts = payload instanceof Uint8Array ? [payload] : payload;
    const bytes = frameBytes(parts.reduce((sum, part) => sum + part.byteLength, 0));
    if (link.pendingBytes() + bytes > this.options.maxQueuedBytesPerPeer) {
      link.counters.dropped.queueFull += items;
      this.log.dropped(
        link.peer,
        `${link.pendingBytes()} bytes are already waiting for it (limit ${this.options.maxQueuedBytesPerPeer}); it is slow or stuck`,
      );
      return false;
    }
    link.enqueue(encodeFrame(type, payload), bytes, items);
    this.dirty.add(link);
    this.flushScheduled ??= setImmediate(() => this.flush());
    return true;
  }

  /** End of the turn: one write per peer for everything queued to it. */
  private flush(): void {
    this.flushScheduled = null;
    const links = [...this.dirty];
    this.dirty.clear();
    for (const link of links) link.flush();
  }

  private onPeerFrame(peer: NodeId, frame: Frame, connection: PeerConnection): void {
    const connectionHandler = this.strangers?.handlers.get(frame.type);
    if (connectionHandler !== undefined) {
      const pending = this.strangerRequests;
      pending.set(connection, (pending.get(connection) ?? 0) + 1);
      connectionHandler(peer, frame.payload, (type, payload) => {
        pending.set(connection, (pending.get(connection) ?? 1) - 1);
        connection.writeBuffers(encodeFrame(type, payload));
      });
      return;
    }
    const link = this.links.get(peer);
    if (link === undefined) {
      // A stranger's connection lives while its request is answered, and no longer: one
      // that only keeps its link alive (another cluster's node with the same secret) is told.
      if (frame.type === FrameType.ping && (this.strangerRequests.get(connection) ?? 0) > 0) {
        connection.writeBuffers(encodeFrame(FrameType.pong, new Uint8Array(0)));
      } else if (this.strangers !== undefined && frame.type !== FrameType.pong) {
        const answer = this.strangers.notMember(peer);
        connection.writeBuffers(encodeFrame(answer.type, answer.payload));
        connection.close({ kind: "local", detail: `${peer} is not a member of this cluster` });
      }
      return;
    }
    link.counters.bytesIn += frameBytes(frame.payload.byteLength);
    if (frame.type === FrameType.raftBatch) {
      this.onRaftBatch(link, frame.payload, connection);
      return;
    }
    if (frame.type === FrameType.ping) {
      // Answered at once on the connection it came on: the dialler times its link by it.
      connection.writeBuffers(encodeFrame(FrameType.pong, new Uint8Array(0)));
      return;
    }
    const handler = this.handlers.get(frame.type);
    if (handler !== undefined) {
      link.counters.messagesIn++;
      handler(peer, frame.payload);
    } else if (frame.type < FrameType.raftBatch) {
      connection.close({
        kind: "corruptFrame",
        detail: `a handshake frame (type ${frame.type}) after the handshake`,
      });
    } else {
      // A newer peer's kind of traffic this node does not know yet: the checksum vouches that
      // the frame is intact, so skipping it is safe.
      this.log.ignoredFromPeer(peer, `frames of type ${frame.type}, which this node does not know`);
    }
  }

  private onRaftBatch(link: PeerLink, payload: Buffer, connection: PeerConnection): void {
    let messages: GroupMessage[];
    try {
      messages = decodeBatch(payload);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      connection.close({
        kind: "corruptFrame",
        detail: `a Raft batch that does not decode: ${error.message}`,
      });
      return;
    }
    // A proven peer speaks only for itself, and only to this node.
    const own = messages.filter(
      (m) => m.message.from === link.peer && m.message.to === this.options.nodeId,
    );
    if (own.length < messages.length) {
      this.log.ignoredFromPeer(link.peer, "Raft messages not from it to this node");
    }
    link.counters.messagesIn += own.length;
    if (own.length > 0) this.receiver(own);
  }

  private handshake(role: "dialer" | "listener", expectedPeer?: NodeId): HandshakeConfig {
    return {
      role,
      localName: this.options.nodeId,
      secret: this.options.secret,
      nonce: this.options.random.bytes(NONCE_BYTES),
      expectedPeer,
      acceptsPeer: (name) => this.links.has(name) || this.strangers !== undefined,
    };
  }

  private linkContext(): LinkContext {
    return {
      openSocket: (address, onOpen) => this.openSocket(address, onOpen),
      handshake: (peer) => this.handshake("dialer", peer),
      connection: { maxFrameBytes: this.options.maxFrameBytes },
      backoff: this.options.backoff,
      dialTimeoutMs: this.options.handshakeTimeoutMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      random: this.options.random,
      log: this.log,
      now: this.options.now,
      // Peers send on the links they dialled; a frame on ours is handled all the same.
      frame: (peer, frame, connection) => this.onPeerFrame(peer, frame, connection),
      lost: (peer) => this.onLost(peer),
    };
  }

  private onLost(peer: NodeId): void {
    for (const handler of this.lostHandlers) handler(peer);
  }

  private openSocket(address: PeerAddress, onOpen: () => void): net.Socket {
    if (this.options.tls === null) {
      return net.connect({ host: address.host, port: address.port }, onOpen);
    }
    const servername = net.isIP(address.host) === 0 ? address.host : undefined;
    return tls.connect(
      {
        host: address.host,
        port: address.port,
        secureContext: this.secureContext!,
        servername,
        rejectUnauthorized: true,
      },
      onOpen,
    );
  }
}
