/**
 * The fault injector. Each strike picks one fault, weighted, and records it so a run's summary
 * says what it survived: partitions (symmetric, one-way, around the leader), crashes with
 * lost and torn writes, restarts, process pauses, and bad network weather.
 */
import type { ClusterSim } from "./cluster-sim.js";
import type { SimNode } from "./sim-node.js";

type Fault =
  | "partition"
  | "oneWayPartition"
  | "isolateLeader"
  | "heal"
  | "crash"
  | "crashLeader"
  | "powerLoss"
  | "restart"
  | "pause"
  | "weather";

const WEIGHTS: ReadonlyArray<readonly [Fault, number]> = [
  ["partition", 3],
  ["oneWayPartition", 2],
  ["isolateLeader", 2],
  ["heal", 5],
  ["crash", 2],
  ["crashLeader", 2],
  ["powerLoss", 1],
  ["restart", 4],
  ["pause", 2],
  ["weather", 3],
];

export class Nemesis {
  total = 0;
  readonly counts: Record<string, number> = {};

  /** Chance that a freshly elected leader is struck within a few milliseconds. */
  private readonly churnProbability: number;
  active = true;

  constructor(private readonly sim: ClusterSim) {
    this.churnProbability = sim.prng.pick([0, 0.2, 0.5]);
  }

  /**
   * Leader churn: a new leader is crashed or cut off moments after its election, while it is
   * still bringing followers up to date. This is where Figure 8 of the Raft paper lives
   * (old-term entries half replicated, short-lived leaders with unreplicated entries).
   */
  onNewLeader(nodeId: string): void {
    const { prng, queue } = this.sim;
    if (!this.active || !prng.chance(this.churnProbability)) return;
    const node = this.sim.nodes.get(nodeId);
    if (node === undefined) return;
    const fault = prng.chance(0.5) ? "crashLeader" : "isolateLeader";
    queue.after(prng.between(0, 15), () => {
      if (!this.active || !node.up) return;
      const detail = fault === "crashLeader" ? this.crash(node) : this.isolate(node.id);
      this.record(`${fault} (churn)`, detail);
    });
  }

  private record(fault: string, detail: string): void {
    this.total++;
    this.counts[fault] = (this.counts[fault] ?? 0) + 1;
    this.sim.trace(`nemesis ${fault}: ${detail}`);
  }

  private isolate(id: string): string {
    const ids = [...this.sim.nodes.keys()];
    this.sim.network.partition(
      [id],
      ids.filter((other) => other !== id),
    );
    return id;
  }

  strike(): void {
    const fault = this.pickFault();
    const detail = this.inject(fault);
    if (detail !== null) this.record(fault, detail);
  }

  private pickFault(): Fault {
    const { prng } = this.sim;
    let roll = prng.next() * WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [fault, weight] of WEIGHTS) {
      roll -= weight;
      if (roll < 0) return fault;
    }
    return "heal";
  }

  private inject(fault: Fault): string | null {
    const { prng, network } = this.sim;
    const ids = [...this.sim.nodes.keys()];
    const up = [...this.sim.nodes.values()].filter((node) => node.up);
    switch (fault) {
      case "partition": {
        const shuffled = prng.shuffle(ids);
        const cut = prng.int(1, ids.length - 1);
        const sideA = shuffled.slice(0, cut);
        const sideB = shuffled.slice(cut);
        network.partition(sideA, sideB);
        return `${sideA.join(",")} | ${sideB.join(",")}`;
      }
      case "oneWayPartition": {
        const node = prng.pick(ids);
        const sendOnly = prng.chance(0.5);
        for (const other of ids) {
          if (other === node) continue;
          if (sendOnly) network.cutOneWay(other, node);
          else network.cutOneWay(node, other);
        }
        return `${node} can ${sendOnly ? "send but not receive" : "receive but not send"}`;
      }
      case "isolateLeader": {
        const leader = this.someLeader();
        if (leader === undefined) return null;
        return this.isolate(leader.id);
      }
      case "heal":
        if (network.cutCount() === 0) return null;
        network.heal();
        return "all links up";
      case "crash": {
        if (up.length === 0) return null;
        // Mostly strike a node in the middle of a write: that is where ordering bugs hide.
        const writing = up.filter((node) => node.disk.unsyncedWrites() > 0);
        return this.crash(prng.pick(writing.length > 0 && prng.chance(0.7) ? writing : up));
      }
      case "crashLeader": {
        const leader = this.someLeader();
        return leader === undefined ? null : this.crash(leader);
      }
      case "powerLoss": {
        // Several machines lose power at once: every one of them loses its unsynced writes.
        if (up.length === 0) return null;
        const victims = prng.shuffle(up).slice(0, prng.int(Math.ceil(up.length / 2), up.length));
        const lost = victims.map((node) => this.crash(node));
        for (const node of victims) {
          this.sim.queue.after(prng.between(5, 200), () => {
            if (this.active && !node.up) node.start();
          });
        }
        return lost.join("; ");
      }
      case "restart": {
        const down = [...this.sim.nodes.values()].filter((node) => !node.up);
        if (down.length === 0) return null;
        const node = prng.pick(down);
        node.start();
        return node.id;
      }
      case "pause": {
        if (up.length === 0) return null;
        const node = prng.pick(up);
        const pauseMs = prng.between(10, 300);
        node.pause(this.sim.queue.nowMs + pauseMs);
        return `${node.id} for ${pauseMs.toFixed(0)}ms`;
      }
      case "weather": {
        const conditions = {
          lossProbability: prng.chance(0.3) ? 0 : prng.between(0, 0.3),
          duplicateProbability: prng.between(0, 0.1),
          minDelayMs: prng.between(0.1, 2),
          maxDelayMs: prng.between(2, 30),
          straggleProbability: prng.between(0, 0.1),
          straggleDelayMs: prng.between(10, 300),
        };
        network.conditions = conditions;
        return `loss ${conditions.lossProbability.toFixed(2)}, dup ${conditions.duplicateProbability.toFixed(2)}, delay ${conditions.minDelayMs.toFixed(1)}-${conditions.maxDelayMs.toFixed(1)}ms`;
      }
    }
  }

  private someLeader(): SimNode | undefined {
    const leaders = this.sim.groupIds.flatMap((groupId) => this.sim.leaders(groupId));
    return leaders.length === 0 ? undefined : this.sim.prng.pick(leaders);
  }

  private crash(node: SimNode): string {
    const outcome = node.crash();
    return `${node.id}: ${outcome}`;
  }
}
