/**
 * Deliberate bugs in classic-queue forwarding, planted from test code only (each patches
 * one decision of a node's real QueueForwarding as the node starts), to show the queue
 * simulation (classic-queue-sim.ts) is sharp: each must be caught within a bounded number
 * of seeds (queue-planted-bugs.test.ts).
 */

import type { QueueFrame } from "../../src/cluster/queues/queue-wire.js";
import { FrameOp } from "../../src/cluster/queues/queue-wire.js";
import type { Consumer } from "../../src/queue/consumer.js";
import type { Queue, QueueDelivery } from "../../src/queue/queue-type.js";
import type { QueueSimConfig } from "./classic-queue-sim.js";
import type { QueueSimNode } from "./queue-sim-node.js";

/** Test-only view of a QueueHost's private state. */
interface HostInternals {
  readonly sessions: Map<
    string,
    {
      readonly consumers: Map<number, { readonly consumer: Consumer | undefined }>;
      readonly outstanding: Map<
        number,
        { readonly queue: Queue; readonly delivery: QueueDelivery; readonly consumer?: Consumer }
      >;
    }
  >;
  lost(peer: string): void;
  onFrame(from: string, f: QueueFrame): void;
}

/**
 * The home forgets to requeue on link loss: a lost link ends the other node's consumers,
 * but what they (and its basic.gets) held stays unacked at the home for good.
 */
function homeKeepsOutstandingOnLinkLoss(node: QueueSimNode): void {
  const host = node.forwarding!.host as unknown as HostInternals;
  const lost = host.lost.bind(host);
  host.lost = (peer) => {
    host.sessions.get(peer)?.outstanding.clear();
    lost(peer);
  };
}

/**
 * The home requeues what a consumer of another node holds when that consumer is cancelled
 * (basic.cancel): but after basic.cancel its client still holds those deliveries and may
 * ack them, so the home hands them to another consumer meanwhile.
 */
function homeRequeuesOnCancel(node: QueueSimNode): void {
  const host = node.forwarding!.host as unknown as HostInternals;
  const onFrame = host.onFrame.bind(host);
  host.onFrame = (from, f) => {
    const session = host.sessions.get(from);
    const consumer =
      f.op === FrameOp.cancel ? session?.consumers.get(f.consumerId)?.consumer : undefined;
    onFrame(from, f);
    if (!session || !consumer) return;
    for (const [id, o] of [...session.outstanding]) {
      if (o.consumer !== consumer) continue;
      session.outstanding.delete(id);
      o.queue.requeue(o.delivery, o.consumer, node.now());
    }
  };
}

export interface QueuePlantedBug {
  readonly name: string;
  readonly rule: string;
  readonly config: Omit<QueueSimConfig, "seed">;
}

export const QUEUE_PLANTED_BUGS: readonly QueuePlantedBug[] = [
  {
    name: "home-keeps-outstanding-on-link-loss",
    rule: "a lost link requeues at the home what the other node held",
    config: { plant: homeKeepsOutstandingOnLinkLoss },
  },
  {
    name: "home-requeues-on-cancel",
    rule: "after basic.cancel, what the consumer holds is still its client's to settle",
    config: { plant: homeRequeuesOnCancel },
  },
];

export function queuePlantedBug(name: string): QueuePlantedBug {
  const bug = QUEUE_PLANTED_BUGS.find((candidate) => candidate.name === name);
  if (bug === undefined) {
    throw new Error(
      `unknown queue planted bug ${name}: ${QUEUE_PLANTED_BUGS.map((b) => b.name).join(", ")}`,
    );
  }
  return bug;
}
