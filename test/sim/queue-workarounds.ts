/**
 * Fixes, applied from test code, for bugs the queue simulation found in src/cluster/queues
 * that are not fixed there yet: each is the fix proposed for src, so the seed campaign
 * checks everything else meanwhile. Remove one when its fix lands (the simulation without
 * it, `workarounds: false`, must then pass too).
 */
import type { QueueForwarding } from "../../src/cluster/queues/queue-forwarding.js";
import { FrameOp, type QueueFrame } from "../../src/cluster/queues/queue-wire.js";
import type { RemoteHomeNode } from "../../src/cluster/queues/remote-home.js";

/** Test-only view of a RemoteHomeNode's private state. */
interface HomeInternals {
  readonly consumers: Map<number, unknown>;
  readonly settles: { requeue: number[] };
  scheduleFlush(): void;
  onFrame(f: QueueFrame): void;
}

/** Calls `patch` once on every RemoteHomeNode the forwarding makes. */
export function patchHomes(
  forwarding: QueueForwarding,
  patch: (home: RemoteHomeNode) => void,
): void {
  const f = forwarding as unknown as {
    homeNode(node: string): RemoteHomeNode;
    readonly homes: Map<string, RemoteHomeNode>;
  };
  const homeNode = f.homeNode.bind(f);
  const patched = new WeakSet<RemoteHomeNode>();
  for (const home of f.homes.values()) {
    patched.add(home);
    patch(home);
  }
  f.homeNode = (node) => {
    const home = homeNode(node);
    if (!patched.has(home)) {
      patched.add(home);
      patch(home);
    }
    return home;
  };
}

/**
 * remote-home.ts onFrame drops a delivery for a consumer already cancelled on this node
 * ("the cancel makes the home requeue it"), but the home's cancel only removes the
 * consumer: what it sent meanwhile stays unacked there until the link drops. The fix:
 * settle such a delivery as requeue.
 */
export function requeueDeliveriesOfCancelledConsumers(forwarding: QueueForwarding): void {
  patchHomes(forwarding, (home) => {
    const h = home as unknown as HomeInternals;
    const onFrame = h.onFrame.bind(home);
    h.onFrame = (f) => {
      if (f.op === FrameOp.deliver && !h.consumers.has(f.consumerId)) {
        h.settles.requeue.push(f.deliveryId);
        h.scheduleFlush();
        return;
      }
      onFrame(f);
    };
  });
}

/**
 * queue-host.ts pause ends a node's session at the home while the link stays up, so that
 * node's epoch does not change; a new session numbers its deliveries from 1 again, and a
 * client's late settle of a delivery from before the pause names a delivery of the new
 * session. The fix: delivery ids go on across a node's sessions.
 */
export function deliveryIdsGoOnAcrossSessions(forwarding: QueueForwarding): void {
  const host = forwarding.host as unknown as {
    readonly sessions: Map<string, { nextDeliveryId: number }>;
    session(node: string): { nextDeliveryId: number };
    lost(node: string): void;
  };
  const nextIds = new Map<string, number>();
  const session = host.session.bind(host);
  host.session = (node) => {
    const fresh = !host.sessions.has(node);
    const s = session(node);
    if (fresh) s.nextDeliveryId = nextIds.get(node) ?? 1;
    return s;
  };
  const lost = host.lost.bind(host);
  host.lost = (node) => {
    const s = host.sessions.get(node);
    if (s) nextIds.set(node, s.nextDeliveryId);
    lost(node);
  };
}

/**
 * queue-host.ts pause ends the other nodes' sessions one by one: what lost() requeues for
 * the first is dispatched, and sent, to consumers of the nodes not ended yet, so a paused
 * home still delivers, and a message goes out to two clients. The fix: stop every node's
 * consumers (cancelled frames, sessions broken) before ending any session.
 */
export function pauseStopsEveryConsumerFirst(forwarding: QueueForwarding): void {
  type Session = {
    readonly node: string;
    readonly consumers: Map<number, { id: number }>;
    broken: boolean;
  };
  const host = forwarding.host as unknown as {
    readonly sessions: Map<string, Session>;
    pausedReason: string | undefined;
    send(session: Session, frame: QueueFrame): void;
    lost(node: string): void;
    pause(reason: string): void;
  };
  host.pause = (reason) => {
    host.pausedReason = reason;
    const sessions = [...host.sessions.values()];
    for (const session of sessions) {
      for (const hosted of session.consumers.values()) {
        host.send(session, { op: FrameOp.cancelled, consumerId: hosted.id, reason: "home-down" });
      }
      session.broken = true;
    }
    for (const session of sessions) host.lost(session.node);
  };
}
