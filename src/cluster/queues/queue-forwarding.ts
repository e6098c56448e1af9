/**
 * Classic queues in a cluster (docs/CLUSTER.md): each queue lives on its home node, and
 * every other node holds a RemoteQueue stand-in that forwards to it. This wires the two
 * sides to the cluster link: the home's QueueHost serves the requests and frames of the
 * other nodes; one RemoteHomeNode per other node keeps this node's consumers of that
 * node's queues. A lost link ends both sides' state with that peer.
 */
import type { Log } from "../../log.js";
import type { Message } from "../../message/message.js";
import { summarizeProperties } from "../../protocol/content-properties.js";
import type { Queue, QueueCreation } from "../../queue/queue-type.js";
import type { Broker } from "../../vhost/broker.js";
import type { FrameHandler } from "../transport/tcp-peer-transport.js";
import { WireError } from "../transport/wire-reader.js";
import { type HostNode, QueueHost } from "./queue-host.js";
import {
  decodeCountsAnswer,
  decodeFrame,
  encodeFrame,
  encodeRefs,
  FrameOp,
  QUEUE_FRAME,
  type QueueFrame,
  type QueueRef,
  QueueRequest,
} from "./queue-wire.js";
import { RemoteHomeNode } from "./remote-home.js";
import { RemoteQueue } from "./remote-queue.js";

/** The cluster link as forwarding uses it (a TcpPeerTransport and PeerRequests, or a test's). */
export interface ForwardingLink {
  onFrame(type: number, handler: FrameHandler): void;
  sendFrame(to: string, type: number, payload: Uint8Array): boolean;
  /** Both directions up. */
  isReachable(peer: string): boolean;
  onLinkLost(handler: (peer: string) => void): void;
  request(to: string, kind: number, payload: Uint8Array, timeoutMs?: number): Promise<Buffer>;
  serve(kind: number, handler: (from: string, payload: Buffer) => Promise<Uint8Array>): void;
}

/** How long a counts refresh waits for a home. */
const COUNTS_TIMEOUT_MS = 5_000;

export class QueueForwarding {
  readonly host: QueueHost;
  private readonly homes = new Map<string, RemoteHomeNode>();
  private nextConsumerId = 1;

  constructor(
    readonly broker: Broker,
    private readonly link: ForwardingLink,
    private readonly log: Log,
  ) {
    this.host = new QueueHost(hostNode(broker), (node, payload) =>
      link.sendFrame(node, QUEUE_FRAME, payload),
    );
    const host = this.host;
    link.serve(QueueRequest.publish, (from, p) => host.publish(from, p));
    link.serve(QueueRequest.consume, (from, p) => host.consume(from, p));
    link.serve(QueueRequest.get, (from, p) => host.get(from, p));
    link.serve(QueueRequest.counts, (from, p) => host.counts(from, p));
    link.serve(QueueRequest.purge, (from, p) => host.purge(from, p));
    link.serve(QueueRequest.declare, (from, p) => host.declare(from, p));
    link.onFrame(QUEUE_FRAME, (from, payload) => this.onFrame(from, payload));
    link.onLinkLost((peer) => this.lost(peer));
    broker.remoteQueues = (creation, home) => this.standIn(creation, home);
    broker.remoteReplies = {
      keyPrefix: replyKeyPrefix(broker.settings.nodeName),
      forward: (key, message) => this.forwardReply(key, message),
    };
  }

  /**
   * Direct reply-to across nodes: a reply whose key names another node is sent there,
   * to the reply consumer that holds the key (dropped there if it is gone, as RabbitMQ
   * drops a reply for a channel that closed).
   */
  private forwardReply(key: string, message: Message): boolean {
    const node = nodeOfReplyKey(key);
    if (node === undefined || node === this.broker.settings.nodeName) return false;
    if (!this.link.isReachable(node)) return false;
    return this.link.sendFrame(
      node,
      QUEUE_FRAME,
      encodeFrame({
        op: FrameOp.reply,
        key,
        exchange: message.exchange,
        routingKey: message.routingKey,
        properties: message.properties,
        body: message.body,
        arrivedAtMs: message.arrivedAtMs,
      }),
    );
  }

  private deliverReply(f: Extract<QueueFrame, { op: typeof FrameOp.reply }>): void {
    const target = this.broker.replyConsumers.get(f.key);
    if (!target) return;
    const properties = Buffer.from(f.properties);
    target.deliverReply({
      id: this.broker.newMessageId(),
      exchange: f.exchange,
      routingKey: f.routingKey,
      properties,
      summary: summarizeProperties(properties),
      body: Buffer.from(f.body),
      persistent: false,
      arrivedAtMs: f.arrivedAtMs,
    });
  }

  /** The stand-in of a queue whose home is `home`. */
  standIn(creation: QueueCreation, home: string): Queue {
    return new RemoteQueue(creation, this.homeNode(home));
  }

  private homeNode(node: string): RemoteHomeNode {
    let home = this.homes.get(node);
    if (!home) {
      const link = this.link;
      home = new RemoteHomeNode(
        node,
        {
          isConnected: (n) => link.isReachable(n),
          sendFrame: (n, payload) => link.sendFrame(n, QUEUE_FRAME, payload),
          request: (n, kind, payload, timeoutMs) => link.request(n, kind, payload, timeoutMs),
        },
        () => this.takeConsumerId(),
        () => this.broker.clock(),
      );
      this.homes.set(node, home);
    }
    return home;
  }

  private takeConsumerId(): number {
    const id = this.nextConsumerId;
    this.nextConsumerId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  private onFrame(from: string, payload: Buffer): void {
    let f: QueueFrame;
    try {
      f = decodeFrame(payload);
    } catch (e) {
      if (!(e instanceof WireError || e instanceof RangeError)) throw e;
      this.log.warn(
        { peer: from, error: e.message },
        `ignored a queue frame from ${from}: ${e.message}`,
      );
      return;
    }
    if (f.op === FrameOp.deliver || f.op === FrameOp.cancelled) this.homes.get(from)?.onFrame(f);
    else if (f.op === FrameOp.reply) this.deliverReply(f);
    else this.host.onFrame(from, f);
  }

  /** A link with `peer` closed: both sides of the forwarding with it start over. */
  lost(peer: string): void {
    this.host.lost(peer);
    this.homes.get(peer)?.lost();
  }

  /**
   * Asks each home for the figures of its queues this node shows (list_queues, the API):
   * one request per home. Homes out of reach are skipped (their queues show "down").
   */
  refreshCounts(): void {
    for (const home of this.homes.values()) {
      if (home.queues.size === 0 || !home.reachable) continue;
      const queues = [...home.queues];
      const refs: QueueRef[] = queues.map((q) => q.ref);
      home.request(QueueRequest.counts, encodeRefs(refs), COUNTS_TIMEOUT_MS).then(
        (answer) => {
          let stats: unknown[];
          try {
            stats = decodeCountsAnswer(answer);
          } catch (e) {
            this.log.warn(
              { peer: home.node, error: (e as Error).message },
              `ignored an unreadable answer with queue figures from ${home.node}`,
            );
            return;
          }
          queues.forEach((q, i) => q.refreshed(stats[i] ?? null));
        },
        () => {},
      );
    }
  }

  /** The home's side now: other nodes' consumers it serves and their unsettled deliveries. */
  stats(): { remoteConsumers: number; outstanding: number } {
    return this.host.stats();
  }
}

/** A node's direct reply-to keys start with its name in base64url and a dot. */
export function replyKeyPrefix(nodeName: string): string {
  return `${Buffer.from(nodeName, "utf8").toString("base64url")}.`;
}

function nodeOfReplyKey(key: string): string | undefined {
  const dot = key.indexOf(".");
  return dot <= 0 ? undefined : Buffer.from(key.slice(0, dot), "base64url").toString("utf8");
}

/** The broker as the host needs it: its own queues (never stand-ins), enqueue, ids, clock. */
function hostNode(broker: Broker): HostNode {
  return {
    localQueue: (ref) => {
      const q = broker.vhosts.get(ref.vhost)?.queues.get(ref.name);
      return q && q.storeId === ref.storeId && !q.remote && !q.deleted ? q : undefined;
    },
    enqueue: (queues, message, nowMs) => broker.enqueue(queues, message, nowMs),
    newMessageId: () => broker.newMessageId(),
    clock: () => broker.clock(),
  };
}
