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
