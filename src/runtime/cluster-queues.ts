/**
 * The runtime's part in classic queues on a cluster (docs/CLUSTER.md, "Classic queues in a
 * cluster"): it connects the forwarding to the cluster link, and it removes the queues that
 * cannot outlive their node, as RabbitMQ does: the exclusive and the non-durable queues of
 * a node that restarted (their connections and messages are gone) or that has been out of
 * reach long enough to have paused and closed its clients.
 */
import { type ForwardingLink, QueueForwarding } from "../cluster/queues/queue-forwarding.js";
import type { PeerRequests } from "../cluster/transport/peer-requests.js";
import type { TcpPeerTransport } from "../cluster/transport/tcp-peer-transport.js";
import type { Log } from "../log.js";
import type { Broker } from "../vhost/broker.js";

/** How often a node asks the homes for the figures of their queues it lists. */
export const COUNTS_REFRESH_MS = 5_000;

export function startQueueForwarding(
  broker: Broker,
  transport: TcpPeerTransport,
  requests: PeerRequests,
  log: Log,
): QueueForwarding {
  // Whatever waits on a peer's answer fails as soon as a link with it is lost.
  transport.onLinkLost((peer) => requests.peerLost(peer));
  return new QueueForwarding(broker, forwardingLinkOf(transport, requests), log);
}

/** The cluster link as queue forwarding (classic and quorum) uses it. */
export function forwardingLinkOf(
  transport: TcpPeerTransport,
  requests: PeerRequests,
): ForwardingLink {
  return {
    onFrame: (type, handler) => transport.onFrame(type, handler),
    sendFrame: (to, type, payload) => transport.sendFrame(to, type, payload),
    isReachable: (peer) => transport.isReachable(peer),
    onLinkLost: (handler) => transport.onLinkLost(handler),
    request: (to, kind, payload, timeoutMs) => requests.request(to, kind, payload, timeoutMs),
    serve: (kind, handler) => requests.serve(kind, handler),
  };
}

/**
 * Deletes the exclusive and non-durable queues homed on `node` (through the metadata
 * group, without waiting); returns how many it asked to delete.
 */
export function dropTransientQueuesOf(broker: Broker, node: string, log: Log, why: string): number {
  let dropped = 0;
  for (const vhost of broker.metadata.vhosts.values()) {
    for (const q of vhost.queues.values()) {
      if (q.home !== node) continue;
      const def = q.definition;
      if (def.durable && !def.exclusive) continue;
      broker.submitTrigger({ type: "queue.delete", vhost: def.vhost, queue: def.name, id: q.id });
      dropped++;
    }
  }
  if (dropped > 0) {
    log.info(
      { node, queues: dropped },
      `deleting ${dropped} exclusive or non-durable queues homed on ${node}: ${why}`,
    );
  }
  return dropped;
}

/**
 * The leader's watch over nodes that are away: once a node has been out of reach for
 * longer than it takes it to pause (and close its clients), its exclusive and
 * non-durable queues are deleted, once per absence.
 */
export class TransientQueueReaper {
  private readonly reaped = new Set<string>();

  constructor(
    private readonly broker: Broker,
    private readonly log: Log,
    private readonly afterMs: number,
  ) {}

  observe(nowMs: number, isLeader: boolean, unreachableSince: ReadonlyMap<string, number>): void {
    for (const node of this.reaped) if (!unreachableSince.has(node)) this.reaped.delete(node);
    if (!isLeader) return;
    for (const [node, since] of unreachableSince) {
      if (this.reaped.has(node) || nowMs - since < this.afterMs) continue;
      this.reaped.add(node);
      dropTransientQueuesOf(
        this.broker,
        node,
        this.log,
        `the node has been unreachable for ${Math.round((nowMs - since) / 1000)} s`,
      );
    }
  }
}

/**
 * The classic-queue side of a cluster node's tick and start: stand-ins' figures refreshed
 * every few seconds, the leader's reaping of a lost node's transient queues, and at start
 * the node's own transient queues dropped before its queues are served to other nodes.
 */
export class ClusterQueueUpkeep {
  private readonly reaper: TransientQueueReaper;
  private lastCountsMs = 0;

  constructor(
    private readonly broker: Broker,
    readonly forwarding: QueueForwarding,
    private readonly log: Log,
    nodeName: string,
    reapAfterMs: number,
  ) {
    this.reaper = new TransientQueueReaper(broker, log, reapAfterMs);
    // Its queues take their recovered messages once caught up; until then other nodes'
    // publishes and consumers wait (a live message must not go in before the recovered ones).
    forwarding.host.pause(`node ${nodeName} is starting`);
  }

  /** Each tick of a node that serves (caught up, not paused). */
  tick(nowMs: number, isLeader: boolean, unreachableSince: ReadonlyMap<string, number>): void {
    this.reaper.observe(nowMs, isLeader, unreachableSince);
    if (nowMs - this.lastCountsMs < COUNTS_REFRESH_MS) return;
    this.lastCountsMs = nowMs;
    this.forwarding.refreshCounts();
  }

  /** The node caught up: transient queues of its last life go; `adopt` hands it its messages. */
  caughtUp(nodeName: string, adopt: () => void): void {
    // Their connections and messages did not survive this node's restart (RabbitMQ too).
    dropTransientQueuesOf(this.broker, nodeName, this.log, "this node restarted");
    adopt();
    this.forwarding.host.resume();
  }
}
