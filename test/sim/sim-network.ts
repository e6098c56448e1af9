/**
 * The simulated network between nodes: every message is delayed, and may be lost, duplicated
 * or overtaken by a later one. Links can be cut one way (asymmetric partitions) or both ways.
 * A cut is checked when a message is sent and again when it would arrive.
 */
import type { GroupMessage, NodeId } from "../../src/raft/index.js";
import type { EventQueue } from "./event-queue.js";
import type { Prng } from "./prng.js";

export interface NetworkConditions {
  lossProbability: number;
  duplicateProbability: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Chance that a message is held back much longer, so later messages overtake it. */
  straggleProbability: number;
  straggleDelayMs: number;
}

export const CALM_NETWORK: NetworkConditions = {
  lossProbability: 0,
  duplicateProbability: 0,
  minDelayMs: 1,
  maxDelayMs: 5,
  straggleProbability: 0,
  straggleDelayMs: 0,
};

export class SimNetwork {
  conditions: NetworkConditions = { ...CALM_NETWORK };
  private readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly deliver: (to: NodeId, message: GroupMessage) => void,
  ) {}

  send(from: NodeId, to: NodeId, message: GroupMessage): void {
    this.sent++;
    const c = this.conditions;
    if (this.isCut(from, to) || this.prng.chance(c.lossProbability)) {
      this.dropped++;
      return;
    }
    const copies = this.prng.chance(c.duplicateProbability) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      let delayMs = this.prng.between(c.minDelayMs, c.maxDelayMs);
      if (this.prng.chance(c.straggleProbability))
        delayMs += this.prng.between(0, c.straggleDelayMs);
      this.queue.after(delayMs, () => {
        if (this.isCut(from, to)) {
          this.dropped++;
          return;
        }
        this.deliver(to, message);
      });
    }
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Cuts every link between the two sides, both ways. */
  partition(sideA: readonly NodeId[], sideB: readonly NodeId[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.cutOneWay(a, b);
        this.cutOneWay(b, a);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  cutCount(): number {
    return this.cut.size;
  }
}
