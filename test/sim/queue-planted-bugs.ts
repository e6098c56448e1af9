/**
 * Deliberate bugs in classic-queue forwarding, planted from test code only (each patches
 * one decision of a node's real QueueForwarding as the node starts), to show the queue
 * simulation (classic-queue-sim.ts) is sharp: each must be caught within a bounded number
 * of seeds (queue-planted-bugs.test.ts).
 */

import type { SettleOutcome } from "../../src/cluster/queues/queue-wire.js";
import type { RemoteDelivery } from "../../src/cluster/queues/remote-home.js";
import type { QueueSimConfig } from "./classic-queue-sim.js";
import type { QueueSimNode } from "./queue-sim-node.js";
import { patchHomes } from "./queue-workarounds.js";

/**
 * The home forgets to requeue on link loss: a lost link ends the other node's consumers,
 * but what they (and its basic.gets) held stays unacked at the home for good.
 */
function homeKeepsOutstandingOnLinkLoss(node: QueueSimNode): void {
  const host = node.forwarding!.host as unknown as {
    readonly sessions: Map<string, { readonly outstanding: Map<number, unknown> }>;
    lost(peer: string): void;
  };
  const lost = host.lost.bind(host);
  host.lost = (peer) => {
    host.sessions.get(peer)?.outstanding.clear();
    lost(peer);
  };
}

/**
 * The stand-in sends settles across link sessions: a client's ack of a delivery from before
 * a lost link (which the home requeued) reaches the new session, where its delivery id
 * names another delivery.
 */
function settlesAcrossSessions(node: QueueSimNode): void {
  patchHomes(node.forwarding!, (home) => {
    const h = home as unknown as {
      readonly epoch: number;
      settle(d: RemoteDelivery, outcome: SettleOutcome): void;
    };
    const settle = h.settle.bind(home);
    h.settle = (d, outcome) => settle({ ...d, epoch: h.epoch }, outcome);
  });
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
    name: "settles-across-sessions",
    rule: "settles of a lost link's session are dropped (epoch)",
    // Delivery ids that go on across sessions (a workaround now, a fix later) would hide it.
    config: { plant: settlesAcrossSessions, withoutIdsAcrossSessions: true },
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
